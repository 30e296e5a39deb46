#include "sampler.h"

#include <exception>

#include "arguments.h"
#include "json-schema-to-grammar.h"
#include "log.h"

namespace modelpool {

SamplerParams ReadSamplerParams(const Napi::Object& o, const std::string& name) {
  auto field = [&](const char* key) { return name + "." + key; };
  auto optional_string = [&](const char* key) -> std::optional<std::string> {
    Napi::Value value = o.Get(key);
    if (value.IsUndefined()) return std::nullopt;
    return RequireString(value, field(key));
  };
  SamplerParams p;
  p.temperature = RequireFiniteNumber(o.Get("temperature"), field("temperature"));
  p.top_k = (int32_t)RequireInteger(o.Get("topK"), field("topK"), 0, INT32_MAX);
  p.top_p = RequireNumber(o.Get("topP"), field("topP"), 0, 1);
  p.min_p = RequireNumber(o.Get("minP"), field("minP"), 0, 1);
  p.repeat_penalty = RequireFiniteNumber(o.Get("repeatPenalty"), field("repeatPenalty"));
  p.repeat_last_n = (int32_t)RequireInteger(o.Get("repeatLastN"), field("repeatLastN"), 0, INT32_MAX);
  p.frequency_penalty = RequireFiniteNumber(o.Get("frequencyPenalty"), field("frequencyPenalty"));
  p.presence_penalty = RequireFiniteNumber(o.Get("presencePenalty"), field("presencePenalty"));
  Napi::Value seed = o.Get("seed");
  if (!seed.IsUndefined()) p.seed = (uint32_t)RequireInteger(seed, field("seed"), 0, UINT32_MAX);
  p.json_schema = optional_string("jsonSchema");
  p.grammar = optional_string("grammar");
  return p;
}

llama_sampler* BuildSampler(const llama_vocab* vocab, const SamplerParams& p, NativeError& error) {
  llama_sampler_chain_params cp = llama_sampler_chain_default_params();
  cp.no_perf = true;
  llama_sampler* chain = llama_sampler_chain_init(cp);
  std::string grammar;
  if (p.json_schema) {
    try {
      grammar = json_schema_to_grammar(common_json::parse(*p.json_schema));
    } catch (const std::exception& e) {
      llama_sampler_free(chain);
      error = {ErrorCode::InvalidSchema, std::string("Expected a supported JSON schema for jsonSchema: ") + e.what()};
      return nullptr;
    }
  } else if (p.grammar) {
    grammar = *p.grammar;
  }
  if (!grammar.empty()) {
    LogCapture capture;
    llama_sampler* g = llama_sampler_init_grammar(vocab, grammar.c_str(), "root");
    if (g == nullptr) {
      llama_sampler_free(chain);
      error = {p.json_schema ? ErrorCode::InvalidSchema : ErrorCode::InvalidArgument,
               "Expected a valid GBNF grammar for grammar: " + capture.Text()};
      return nullptr;
    }
    llama_sampler_chain_add(chain, g);
  }
  if (p.repeat_penalty != 1.0 || p.frequency_penalty != 0.0 || p.presence_penalty != 0.0) {
    llama_sampler_chain_add(chain, llama_sampler_init_penalties(llama_vocab_n_tokens(vocab), p.repeat_last_n,
                                                                (float)p.repeat_penalty, (float)p.frequency_penalty,
                                                                (float)p.presence_penalty));
  }
  if (p.temperature <= 0.0) {
    llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    return chain;
  }
  if (p.top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(p.top_k));
  if (p.top_p < 1.0) llama_sampler_chain_add(chain, llama_sampler_init_top_p((float)p.top_p, 1));
  if (p.min_p > 0.0) llama_sampler_chain_add(chain, llama_sampler_init_min_p((float)p.min_p, 1));
  llama_sampler_chain_add(chain, llama_sampler_init_temp((float)p.temperature));
  llama_sampler_chain_add(chain, llama_sampler_init_dist(p.seed.value_or(LLAMA_DEFAULT_SEED)));
  return chain;
}

}  // namespace modelpool
