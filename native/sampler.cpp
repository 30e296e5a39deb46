#include "sampler.h"

#include <string>

#include "arguments.h"
#include "json-schema-to-grammar.h"
#include "log.h"

namespace modelpool {

llama_sampler* BuildSampler(Napi::Env env, ModelCore& core, const Napi::Object& o) {
  auto num = [&](const char* key, double fallback) {
    return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().DoubleValue() : fallback;
  };
  const llama_vocab* vocab = core.vocab();
  llama_sampler_chain_params cp = llama_sampler_chain_default_params();
  cp.no_perf = true;
  llama_sampler* chain = llama_sampler_chain_init(cp);
  std::string grammar;
  if (o.Has("jsonSchema") && o.Get("jsonSchema").IsString()) {
    try {
      grammar = json_schema_to_grammar(common_json::parse(o.Get("jsonSchema").As<Napi::String>().Utf8Value()));
    } catch (const std::exception& e) {
      llama_sampler_free(chain);
      throw MakeError(env, ErrorCode::InvalidSchema, std::string("Expected a supported JSON schema for jsonSchema: ") + e.what());
    }
  } else if (o.Has("grammar") && o.Get("grammar").IsString()) {
    grammar = o.Get("grammar").As<Napi::String>().Utf8Value();
  }
  if (!grammar.empty()) {
    LogCapture capture;
    llama_sampler* g = llama_sampler_init_grammar(vocab, grammar.c_str(), "root");
    if (g == nullptr) {
      llama_sampler_free(chain);
      throw MakeError(env, o.Has("jsonSchema") ? ErrorCode::InvalidSchema : ErrorCode::InvalidArgument,
                      "Expected a valid GBNF grammar for grammar: " + capture.Text());
    }
    llama_sampler_chain_add(chain, g);
  }
  const double temperature = num("temperature", 0.8);
  const double repeat = num("repeatPenalty", 1.0), freq = num("frequencyPenalty", 0.0),
               presence = num("presencePenalty", 0.0);
  if (repeat != 1.0 || freq != 0.0 || presence != 0.0) {
    llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), (int32_t)num("repeatLastN", 64), (float)repeat,
                                                                (float)freq, (float)presence));
  }
  if (temperature <= 0.0) {
    llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    return chain;
  }
  const int32_t top_k = (int32_t)num("topK", 40);
  if (top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(top_k));
  const double top_p = num("topP", 0.95);
  if (top_p < 1.0) llama_sampler_chain_add(chain, llama_sampler_init_top_p((float)top_p, 1));
  const double min_p = num("minP", 0.05);
  if (min_p > 0.0) llama_sampler_chain_add(chain, llama_sampler_init_min_p((float)min_p, 1));
  llama_sampler_chain_add(chain, llama_sampler_init_temp((float)temperature));
  const uint32_t seed = o.Has("seed") && o.Get("seed").IsNumber() ? o.Get("seed").As<Napi::Number>().Uint32Value()
                                                                   : LLAMA_DEFAULT_SEED;
  llama_sampler_chain_add(chain, llama_sampler_init_dist(seed));
  return chain;
}

}  // namespace modelpool
