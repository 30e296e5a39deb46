// The Node-API surface of modelpool. JavaScript validates every argument (src/engine/) and passes plain
// objects; this file converts them once into C++ structs on the JavaScript thread. Blocking llama.cpp
// work runs in AsyncWorkers (load, estimate, quantize) or on each model's scheduler thread.
// src/engine/native.ts describes the exact shape of these exports.
#include <napi.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "json-schema-to-grammar.h"
#include "llama.h"
#include "model_core.h"

namespace modelpool {

// Per-environment state (no statics: the addon may load in worker threads too).
struct AddonData {
  Napi::FunctionReference model_ctor;
  std::mutex mutex;
  std::set<std::shared_ptr<ModelCore>> cores;  // live cores, closed at environment teardown
  std::shared_ptr<std::atomic<bool>> env_closing = std::make_shared<std::atomic<bool>>(false);
};

static void Cleanup(void* arg);

// Environment cleanup hooks run in reverse order of registration, and every thread-safe function
// registers one that frees it. Our hook must run before those (it joins the scheduler threads that
// still call into them), so it is moved to the end of the list after each thread-safe function is made.
static void KeepCleanupFirst(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) return;
  napi_remove_env_cleanup_hook(env, Cleanup, data);
  napi_add_env_cleanup_hook(env, Cleanup, data);
}

static Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

static LoadParams ReadLoadParams(const Napi::Object& o) {
  LoadParams p;
  p.path = o.Get("path").As<Napi::String>().Utf8Value();
  auto u32 = [&](const char* key, uint32_t& out) {
    if (o.Has(key) && o.Get(key).IsNumber()) out = o.Get(key).As<Napi::Number>().Uint32Value();
  };
  auto i32 = [&](const char* key, int32_t& out) {
    if (o.Has(key) && o.Get(key).IsNumber()) out = o.Get(key).As<Napi::Number>().Int32Value();
  };
  auto flag = [&](const char* key, bool& out) {
    if (o.Has(key) && o.Get(key).IsBoolean()) out = o.Get(key).As<Napi::Boolean>().Value();
  };
  u32("contextSize", p.context_size);
  u32("parallel", p.parallel);
  i32("threads", p.threads);
  i32("batchThreads", p.batch_threads);
  i32("gpuLayers", p.gpu_layers);
  u32("batchSize", p.batch_size);
  flag("mmap", p.mmap);
  flag("mlock", p.mlock);
  flag("embeddings", p.embeddings);
  return p;
}

static Napi::Array MemoryToJs(Napi::Env env, const std::vector<MemoryEntry>& memory) {
  Napi::Array out = Napi::Array::New(env, memory.size());
  for (size_t i = 0; i < memory.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("device", memory[i].device);
    e.Set("weights", (double)memory[i].weights);
    e.Set("kvCache", (double)memory[i].kv);
    e.Set("compute", (double)memory[i].compute);
    out.Set((uint32_t)i, e);
  }
  return out;
}

static uint64_t MemoryTotal(const std::vector<MemoryEntry>& memory) {
  uint64_t total = 0;
  for (const auto& e : memory) total += e.weights + e.kv + e.compute;
  return total;
}

// ---------------------------------------------------------------------------------------------
// Model: the JavaScript object for one ModelCore.

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {
                           InstanceMethod<&Model::Info>("info"),
                           InstanceMethod<&Model::MemoryJs>("memory"),
                           InstanceMethod<&Model::Tokenize>("tokenize"),
                           InstanceMethod<&Model::Detokenize>("detokenize"),
                           InstanceMethod<&Model::ApplyChatTemplate>("applyChatTemplate"),
                           InstanceMethod<&Model::Generate>("generate"),
                           InstanceMethod<&Model::WakeJs>("wake"),
                           InstanceMethod<&Model::Embed>("embed"),
                           InstanceMethod<&Model::SetThreads>("setThreads"),
                           InstanceMethod<&Model::Stats>("stats"),
                           InstanceMethod<&Model::Close>("close"),
                       });
  }

  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    // Constructed only by ModelLoadWorker, which passes the core through an External.
    if (info.Length() < 1 || !info[0].IsExternal()) {
      throw MakeError(info.Env(), "INVALID_ARGUMENT", "Model cannot be constructed directly; use loadModel()");
    }
    core_ = *info[0].As<Napi::External<std::shared_ptr<ModelCore>>>().Data();
    external_bytes_ = (int64_t)MemoryTotal(core_->Memory());
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), external_bytes_);
  }

  ~Model() override {
    // Safety net only: dispose() is the way to free a model. Dropping the core here aborts its requests.
    if (core_) {
      core_->Close(true, nullptr);
      Forget();
    }
  }

  std::shared_ptr<ModelCore> core() const { return core_; }

 private:
  ModelCore& Live(Napi::Env env) {
    if (!core_ || core_->Closing()) throw MakeError(env, "DISPOSED", "the model has been disposed");
    return *core_;
  }

  void Forget() {
    AddonData* data = Env().GetInstanceData<AddonData>();
    if (data != nullptr) {
      std::lock_guard<std::mutex> lock(data->mutex);
      data->cores.erase(core_);
    }
    core_.reset();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ModelCore& core = Live(env);
    llama_model* m = core.model();
    Napi::Object o = Napi::Object::New(env);
    char buf[256];
    llama_model_desc(m, buf, sizeof(buf));
    o.Set("description", buf);
    std::string arch;
    if (llama_model_meta_val_str(m, "general.architecture", buf, sizeof(buf)) >= 0) arch = buf;
    o.Set("architecture", arch);
    o.Set("path", core.path());
    o.Set("parameterCount", (double)llama_model_n_params(m));
    o.Set("sizeBytes", (double)llama_model_size(m));
    o.Set("contextSize", core.context_size());
    o.Set("trainContextSize", llama_model_n_ctx_train(m));
    o.Set("parallel", core.parallel());
    o.Set("embeddingSize", llama_model_n_embd(m));
    o.Set("layers", llama_model_n_layer(m));
    o.Set("vocabularySize", llama_vocab_n_tokens(core.vocab()));
    const char* tmpl = llama_model_chat_template(m, nullptr);
    if (tmpl != nullptr) o.Set("chatTemplate", tmpl);
    o.Set("embeddings", core.embeddings());
    o.Set("loadMs", core.load_ms());
    return o;
  }

  Napi::Value MemoryJs(const Napi::CallbackInfo& info) { return MemoryToJs(info.Env(), Live(info.Env()).Memory()); }

  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ModelCore& core = Live(env);
    std::string text = info[0].As<Napi::String>().Utf8Value();
    bool add_special = info[1].As<Napi::Boolean>().Value();
    bool parse_special = info[2].As<Napi::Boolean>().Value();
    std::vector<llama_token> tokens = TokenizeText(core, text, add_special, parse_special);
    Napi::Int32Array out = Napi::Int32Array::New(env, tokens.size());
    std::copy(tokens.begin(), tokens.end(), out.Data());
    return out;
  }

  static std::vector<llama_token> TokenizeText(ModelCore& core, const std::string& text, bool add_special,
                                               bool parse_special) {
    std::vector<llama_token> tokens(text.size() + 8);
    int32_t n = llama_tokenize(core.vocab(), text.data(), (int32_t)text.size(), tokens.data(), (int32_t)tokens.size(),
                               add_special, parse_special);
    if (n < 0) {
      tokens.resize((size_t)-n);
      n = llama_tokenize(core.vocab(), text.data(), (int32_t)text.size(), tokens.data(), (int32_t)tokens.size(),
                         add_special, parse_special);
    }
    tokens.resize((size_t)std::max(0, n));
    return tokens;
  }

  Napi::Value Detokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ModelCore& core = Live(env);
    Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
    const int32_t n_vocab = llama_vocab_n_tokens(core.vocab());
    for (size_t i = 0; i < arr.ElementLength(); i++) {
      if (arr[i] < 0 || arr[i] >= n_vocab) {
        throw MakeError(env, "INVALID_ARGUMENT",
                        "Expected token ids between 0 and " + std::to_string(n_vocab - 1) + " for tokens[" +
                            std::to_string(i) + "] but received number " + std::to_string(arr[i]));
      }
    }
    std::string text(arr.ElementLength() * 8 + 16, '\0');
    int32_t n = llama_detokenize(core.vocab(), arr.Data(), (int32_t)arr.ElementLength(), text.data(),
                                 (int32_t)text.size(), false, false);
    if (n < 0) {
      text.resize((size_t)-n);
      n = llama_detokenize(core.vocab(), arr.Data(), (int32_t)arr.ElementLength(), text.data(), (int32_t)text.size(),
                           false, false);
    }
    text.resize((size_t)std::max(0, n));
    return Napi::String::New(env, text);
  }

  Napi::Value ApplyChatTemplate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ModelCore& core = Live(env);
    Napi::Array messages = info[0].As<Napi::Array>();
    bool add_assistant = info[1].As<Napi::Boolean>().Value();
    std::vector<std::string> roles, contents;
    for (uint32_t i = 0; i < messages.Length(); i++) {
      Napi::Object m = messages.Get(i).As<Napi::Object>();
      roles.push_back(m.Get("role").As<Napi::String>().Utf8Value());
      contents.push_back(m.Get("content").As<Napi::String>().Utf8Value());
    }
    std::vector<llama_chat_message> chat;
    size_t total = 0;
    for (size_t i = 0; i < roles.size(); i++) {
      chat.push_back({roles[i].c_str(), contents[i].c_str()});
      total += roles[i].size() + contents[i].size();
    }
    const char* tmpl = llama_model_chat_template(core.model(), nullptr);
    // Models without a template get ChatML, as llama.cpp's server does.
    std::string fallback = "chatml";
    std::string out(total * 2 + 512, '\0');
    int32_t n = llama_chat_apply_template(tmpl ? tmpl : fallback.c_str(), chat.data(), chat.size(), add_assistant,
                                          out.data(), (int32_t)out.size());
    if (n > (int32_t)out.size()) {
      out.resize((size_t)n);
      n = llama_chat_apply_template(tmpl ? tmpl : fallback.c_str(), chat.data(), chat.size(), add_assistant, out.data(),
                                    (int32_t)out.size());
    }
    if (n < 0) {
      throw MakeError(env, "INVALID_ARGUMENT",
                      "the model's chat template is not one llama.cpp supports; pass a formatted prompt instead");
    }
    out.resize((size_t)n);
    return Napi::String::New(env, out);
  }

  // A sink delivering a request's text and result to one JavaScript callback: cb(kind, text, result?).
  class JsSink : public RequestSink {
   public:
    JsSink(Napi::Env env, Napi::Function callback, std::shared_ptr<Request> request)
        : request_(request) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "modelpool.generate", 0, 1);
      KeepCleanupFirst(env);
    }
    void TextReady() override {
      if (text_pending_.exchange(true)) return;
      std::shared_ptr<Request> r = request_.lock();
      if (!r) return;
      auto* self = this;
      tsfn_.NonBlockingCall([r, self](Napi::Env env, Napi::Function cb) {
        self->text_pending_ = false;
        std::string text = r->TakeText();
        if (!text.empty() && env != nullptr) cb.Call({Napi::String::New(env, "text"), Napi::String::New(env, text)});
      });
    }
    void Finished() override {
      std::shared_ptr<Request> r = request_.lock();
      // The sink is owned by the request: keep both alive until the final call ran.
      std::shared_ptr<RequestSink> keep = r ? r->sink : nullptr;
      napi_status st = tsfn_.NonBlockingCall([r, keep](Napi::Env env, Napi::Function cb) {
        if (env == nullptr || !r) return;
        std::string text = r->TakeText();
        Napi::Object result = Napi::Object::New(env);
        std::lock_guard<std::mutex> lock(r->out_mutex);
        const RequestStats& s = r->stats;
        if (!r->error.ok()) {
          result.Set("errorCode", r->error.code);
          result.Set("errorMessage", r->error.message);
        }
        result.Set("finishReason", r->finish_reason);
        result.Set("text", r->full_text);
        result.Set("promptTokens", s.prompt_tokens);
        result.Set("generatedTokens", s.generated_tokens);
        result.Set("queuedMs", s.admitted_ms - s.submitted_ms);
        result.Set("firstTokenMs", s.first_token_ms > 0 ? s.first_token_ms - s.submitted_ms : -1);
        result.Set("promptMs", s.first_token_ms > 0 ? s.first_token_ms - s.admitted_ms : s.finished_ms - s.admitted_ms);
        result.Set("decodeMs", s.first_token_ms > 0 ? s.finished_ms - s.first_token_ms : 0);
        result.Set("totalMs", s.finished_ms - s.submitted_ms);
        result.Set("nativeMs", s.native_ms);
        result.Set("cpuMs", s.cpu_ms);
        if (r->kind == Request::Kind::Embed) {
          Napi::Array embeddings = Napi::Array::New(env, r->embeddings.size());
          for (size_t i = 0; i < r->embeddings.size(); i++) {
            Napi::Float32Array v = Napi::Float32Array::New(env, r->embeddings[i].size());
            std::copy(r->embeddings[i].begin(), r->embeddings[i].end(), v.Data());
            embeddings.Set((uint32_t)i, v);
          }
          result.Set("embeddings", embeddings);
        }
        cb.Call({Napi::String::New(env, "done"), Napi::String::New(env, text), result});
      });
      (void)st;
      tsfn_.Release();
    }

    // The request was never queued: let go of the callback so it does not hold the event loop open.
    void Abandon() { tsfn_.Release(); }

   private:
    Napi::ThreadSafeFunction tsfn_;
    std::weak_ptr<Request> request_;
    std::atomic<bool> text_pending_{false};
  };

  static llama_sampler* BuildSampler(Napi::Env env, ModelCore& core, const Napi::Object& o) {
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
        throw MakeError(env, "INVALID_SCHEMA", std::string("Expected a supported JSON schema for jsonSchema: ") + e.what());
      }
    } else if (o.Has("grammar") && o.Get("grammar").IsString()) {
      grammar = o.Get("grammar").As<Napi::String>().Utf8Value();
    }
    if (!grammar.empty()) {
      LogCapture capture;
      llama_sampler* g = llama_sampler_init_grammar(vocab, grammar.c_str(), "root");
      if (g == nullptr) {
        llama_sampler_free(chain);
        throw MakeError(env, o.Has("jsonSchema") ? "INVALID_SCHEMA" : "INVALID_ARGUMENT",
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

  static Napi::Object RequestHandle(Napi::Env env, std::shared_ptr<ModelCore> core, std::shared_ptr<Request> request) {
    Napi::Object handle = Napi::Object::New(env);
    std::weak_ptr<ModelCore> weak_core = core;
    std::weak_ptr<Request> weak_request = request;
    handle.Set("abort", Napi::Function::New(env, [weak_core, weak_request](const Napi::CallbackInfo&) {
                 std::shared_ptr<ModelCore> c = weak_core.lock();
                 std::shared_ptr<Request> r = weak_request.lock();
                 if (c && r) c->Abort(r);
               }));
    handle.Set("promptTokens", (double)request->prompt.size());
    return handle;
  }

 public:
  // generate(options, callback) -> { abort(), promptTokens }. Also used by Slot.
  static Napi::Value SubmitGenerate(Napi::Env env, const std::shared_ptr<ModelCore>& core, const Napi::Object& o,
                                    const Napi::Function& callback, bool notify = true) {
    if (core->embeddings()) {
      throw MakeError(env, "INVALID_ARGUMENT", "this model was loaded for embeddings; load it without embeddings to generate");
    }
    auto request = std::make_shared<Request>();
    request->prompt = TokenizeText(*core, o.Get("prompt").As<Napi::String>().Utf8Value(),
                                   o.Get("addSpecial").As<Napi::Boolean>().Value(),
                                   o.Get("parseSpecial").As<Napi::Boolean>().Value());
    if (request->prompt.empty()) {
      throw MakeError(env, "INVALID_ARGUMENT", "Expected a prompt that tokenizes to at least one token for prompt but received an empty prompt");
    }
    if (request->prompt.size() + 1 > core->context_size()) {
      throw MakeError(env, "CONTEXT_OVERFLOW",
                      "the prompt has " + std::to_string(request->prompt.size()) + " tokens but the context holds " +
                          std::to_string(core->context_size()) + " tokens per sequence");
    }
    request->max_tokens = o.Get("maxTokens").As<Napi::Number>().Int32Value();
    Napi::Array stop = o.Get("stop").As<Napi::Array>();
    for (uint32_t i = 0; i < stop.Length(); i++) request->stop.push_back(stop.Get(i).As<Napi::String>().Utf8Value());
    request->sampler = BuildSampler(env, *core, o);
    auto sink = std::make_shared<JsSink>(env, callback, request);
    request->sink = sink;
    if (!core->Submit(request, notify)) {
      sink->Abandon();
      request->sink.reset();
      throw MakeError(env, "DISPOSED", "the model has been disposed");
    }
    return RequestHandle(env, core, request);
  }

 private:
  // generate(options, callback, deferWake): with deferWake the caller calls wake() later in the same
  // turn of the event loop (src/engine/engine.ts does it in a microtask).
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Live(info.Env());
    const bool defer = info.Length() > 2 && info[2].ToBoolean().Value();
    return SubmitGenerate(info.Env(), core_, info[0].As<Napi::Object>(), info[1].As<Napi::Function>(), !defer);
  }

  Napi::Value WakeJs(const Napi::CallbackInfo& info) {
    if (core_) core_->Wake();
    return info.Env().Undefined();
  }

  Napi::Value Embed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ModelCore& core = Live(env);
    if (!core.embeddings()) {
      throw MakeError(env, "INVALID_ARGUMENT", "this model was not loaded for embeddings; load it with { embeddings: true }");
    }
    Napi::Array texts = info[0].As<Napi::Array>();
    auto request = std::make_shared<Request>();
    request->kind = Request::Kind::Embed;
    for (uint32_t i = 0; i < texts.Length(); i++) {
      std::vector<llama_token> tokens = TokenizeText(core, texts.Get(i).As<Napi::String>().Utf8Value(), true, false);
      if (tokens.empty() || tokens.size() > core.context_size()) {
        throw MakeError(env, tokens.empty() ? "INVALID_ARGUMENT" : "CONTEXT_OVERFLOW",
                        "texts[" + std::to_string(i) + "] has " + std::to_string(tokens.size()) +
                            " tokens; embeddings need between 1 and " + std::to_string(core.context_size()));
      }
      request->embed_inputs.push_back(std::move(tokens));
    }
    auto sink = std::make_shared<JsSink>(env, info[1].As<Napi::Function>(), request);
    request->sink = sink;
    if (!core.Submit(request)) {
      sink->Abandon();
      request->sink.reset();
      throw MakeError(env, "DISPOSED", "the model has been disposed");
    }
    return RequestHandle(env, core_, request);
  }

  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    Live(info.Env()).SetThreads(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("threads", core_ ? core_->Threads() : 0);
    o.Set("activeRequests", core_ ? (double)core_->ActiveRequests() : 0.0);
    o.Set("decodeSteps", core_ ? (double)core_->DecodeSteps() : 0.0);
    o.Set("closed", !core_ || core_->Closing());
    return o;
  }

  // close(abort) -> Promise<void>: resolves when the scheduler thread has freed everything.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
    Napi::Promise promise = deferred->Promise();
    if (!core_ || core_->Closing()) {
      closed_waiters_.push_back(deferred);
      if (!core_) {
        for (auto& d : closed_waiters_) d->Resolve(env.Undefined());
        closed_waiters_.clear();
      }
      return promise;
    }
    closed_waiters_.push_back(deferred);
    const bool abort = info.Length() > 0 && info[0].ToBoolean().Value();
    Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(
        env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "modelpool.close", 0, 1);
    KeepCleanupFirst(env);
    Napi::Reference<Napi::Value> self = Napi::Persistent(Value().As<Napi::Value>());
    auto self_ref = std::make_shared<Napi::Reference<Napi::Value>>(std::move(self));
    core_->Close(abort, [tsfn, this, self_ref]() mutable {
      tsfn.NonBlockingCall([this, self_ref](Napi::Env env, Napi::Function) {
        if (env == nullptr) return;
        // Join the (now finished) scheduler thread and drop the core on the JavaScript thread.
        std::shared_ptr<ModelCore> core = core_;
        if (core) {
          core->Join();
          Napi::MemoryManagement::AdjustExternalMemory(env, -external_bytes_);
          external_bytes_ = 0;
          Forget();
        }
        for (auto& d : closed_waiters_) d->Resolve(env.Undefined());
        closed_waiters_.clear();
        self_ref->Reset();
      });
      tsfn.Release();
    });
    return promise;
  }

  std::shared_ptr<ModelCore> core_;
  int64_t external_bytes_ = 0;
  std::vector<std::shared_ptr<Napi::Promise::Deferred>> closed_waiters_;
};

// ---------------------------------------------------------------------------------------------
// Slot: the hot-swap primitive. Holds the current model; replace() publishes a new one atomically.
// A request takes the current core under the lock and is queued on it before the lock is released, so
// a request accepted before replace() finishes on the old model and nothing is ever lost in between.

class Slot : public Napi::ObjectWrap<Slot> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Slot",
                       {InstanceMethod<&Slot::Replace>("replace"), InstanceMethod<&Slot::Generate>("generate"),
                        InstanceMethod<&Slot::Current>("current"), InstanceMethod<&Slot::Generation>("generation")});
  }
  explicit Slot(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Slot>(info) { Set(info[0].As<Napi::Object>()); }

 private:
  void Set(Napi::Object model_obj) {
    Model* model = Napi::ObjectWrap<Model>::Unwrap(model_obj);
    std::shared_ptr<ModelCore> core = model->core();
    if (!core || core->Closing()) throw MakeError(Env(), "DISPOSED", "the model has been disposed");
    std::lock_guard<std::mutex> lock(mutex_);
    core_ = core;
    model_ref_ = Napi::Persistent(model_obj);
    generation_++;
  }
  Napi::Value Replace(const Napi::CallbackInfo& info) {
    Napi::Value previous = model_ref_.Value();
    Set(info[0].As<Napi::Object>());
    return previous;
  }
  Napi::Value Current(const Napi::CallbackInfo&) { return model_ref_.Value(); }
  Napi::Value Generation(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)generation_); }
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!core_ || core_->Closing()) throw MakeError(info.Env(), "DISPOSED", "the slot's model has been disposed");
    Napi::Object handle =
        Model::SubmitGenerate(info.Env(), core_, info[0].As<Napi::Object>(), info[1].As<Napi::Function>()).As<Napi::Object>();
    handle.Set("model", model_ref_.Value());
    return handle;
  }

  std::mutex mutex_;
  std::shared_ptr<ModelCore> core_;
  Napi::ObjectReference model_ref_;
  uint64_t generation_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Workers

class ModelLoadWorker : public Napi::AsyncWorker {
 public:
  ModelLoadWorker(Napi::Env env, LoadParams params, Napi::Function on_progress, AddonData* data)
      : Napi::AsyncWorker(env, "modelpool.loadModel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        params_(std::move(params)),
        data_(data),
        env_closing_(data->env_closing),
        aborted_(std::make_shared<std::atomic<bool>>(false)) {
    if (!on_progress.IsEmpty()) {
      progress_ = Napi::ThreadSafeFunction::New(env, on_progress, "modelpool.loadProgress", 1, 1);
      has_progress_ = true;
      KeepCleanupFirst(env);
    }
  }
  ~ModelLoadWorker() override {
    if (has_progress_) progress_.Release();
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  std::shared_ptr<std::atomic<bool>> AbortFlag() { return aborted_; }

  void Execute() override {
    core_ = std::make_shared<ModelCore>();
    float last = -1;
    error_ = core_->Load(params_, [&](float value) {
      if (aborted_->load() || env_closing_->load()) return false;
      if (has_progress_ && value - last >= 0.01f) {
        last = value;
        progress_.NonBlockingCall([value](Napi::Env env, Napi::Function cb) {
          if (env != nullptr) cb.Call({Napi::Number::New(env, value)});
        });
      }
      return true;
    });
    if (error_.ok() && (aborted_->load() || env_closing_->load())) error_ = {"ABORTED", "model load was aborted"};
    if (!error_.ok()) {
      core_.reset();
      return;
    }
    core_->Start();
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.ok()) {
      deferred_.Reject(MakeError(env, error_.code, error_.message).Value());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(data_->mutex);
      data_->cores.insert(core_);
    }
    Napi::Object model = data_->model_ctor.New({Napi::External<std::shared_ptr<ModelCore>>::New(env, &core_)});
    deferred_.Resolve(model);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  LoadParams params_;
  AddonData* data_;
  std::shared_ptr<std::atomic<bool>> env_closing_;
  std::shared_ptr<std::atomic<bool>> aborted_;
  Napi::ThreadSafeFunction progress_;
  bool has_progress_ = false;
  std::shared_ptr<ModelCore> core_;
  NativeError error_;
};

// Dry-run load: llama.cpp sizes every buffer without allocating (no_alloc), as common/fit does.
class ModelEstimateWorker : public Napi::AsyncWorker {
 public:
  ModelEstimateWorker(Napi::Env env, LoadParams params)
      : Napi::AsyncWorker(env, "modelpool.estimateMemory"), deferred_(Napi::Promise::Deferred::New(env)), params_(std::move(params)) {
    params_.no_alloc = true;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    ModelCore core;
    error_ = core.Load(params_, nullptr);
    if (error_.ok()) {
      memory_ = core.Memory();
      context_size_ = core.context_size();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.ok()) {
      deferred_.Reject(MakeError(env, error_.code, error_.message).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("devices", MemoryToJs(env, memory_));
    o.Set("contextSize", context_size_);
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  LoadParams params_;
  NativeError error_;
  std::vector<MemoryEntry> memory_;
  uint32_t context_size_ = 0;
};

class ModelQuantizeWorker : public Napi::AsyncWorker {
 public:
  ModelQuantizeWorker(Napi::Env env, std::string input, std::string output, llama_ftype ftype, int32_t threads)
      : Napi::AsyncWorker(env, "modelpool.quantize"),
        deferred_(Napi::Promise::Deferred::New(env)),
        input_(std::move(input)),
        output_(std::move(output)),
        ftype_(ftype),
        threads_(threads) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    LogCapture capture;
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.ftype = ftype_;
    qp.nthread = threads_;
    if (llama_model_quantize(input_.c_str(), output_.c_str(), &qp) != 0) {
      error_ = "llama_model_quantize failed for " + input_ + ": " + capture.Text();
    }
  }
  void OnOK() override {
    if (!error_.empty()) deferred_.Reject(MakeError(Env(), "LOAD_FAILED", error_).Value());
    else deferred_.Resolve(Env().Undefined());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string input_, output_, error_;
  llama_ftype ftype_;
  int32_t threads_;
};

// ---------------------------------------------------------------------------------------------
// Exports

static Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Function on_progress = info.Length() > 1 && info[1].IsFunction() ? info[1].As<Napi::Function>() : Napi::Function();
  auto* worker = new ModelLoadWorker(env, ReadLoadParams(info[0].As<Napi::Object>()), on_progress, data);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", worker->Promise());
  std::shared_ptr<std::atomic<bool>> flag = worker->AbortFlag();
  handle.Set("abort", Napi::Function::New(env, [flag](const Napi::CallbackInfo&) { flag->store(true); }));
  worker->Queue();
  return handle;
}

static Napi::Value EstimateMemory(const Napi::CallbackInfo& info) {
  auto* worker = new ModelEstimateWorker(info.Env(), ReadLoadParams(info[0].As<Napi::Object>()));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

static Napi::Value Quantize(const Napi::CallbackInfo& info) {
  auto* worker = new ModelQuantizeWorker(info.Env(), info[0].As<Napi::String>().Utf8Value(),
                                         info[1].As<Napi::String>().Utf8Value(),
                                         (llama_ftype)info[2].As<Napi::Number>().Int32Value(),
                                         info[3].As<Napi::Number>().Int32Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

static Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array gpus = Napi::Array::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  Napi::Object ram = Napi::Object::New(env);
  for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    size_t free = 0, total = 0;
    ggml_backend_dev_memory(dev, &free, &total);
    const auto type = ggml_backend_dev_type(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_CPU) {
      cpu.Set("model", ggml_backend_dev_description(dev));
      ram.Set("total", (double)total);
      ram.Set("free", (double)free);
    } else if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
      Napi::Object g = Napi::Object::New(env);
      g.Set("name", ggml_backend_dev_name(dev));
      g.Set("description", ggml_backend_dev_description(dev));
      g.Set("type", type == GGML_BACKEND_DEVICE_TYPE_GPU ? "gpu" : "igpu");
      g.Set("total", (double)total);
      g.Set("free", (double)free);
      gpus.Set(gpus.Length(), g);
    }
  }
  cpu.Set("cores", (double)std::thread::hardware_concurrency());
  Napi::Array features = Napi::Array::New(env);
  Napi::Array backends = Napi::Array::New(env);
  for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
    ggml_backend_reg_t reg = ggml_backend_reg_get(i);
    backends.Set(backends.Length(), ggml_backend_reg_name(reg));
    auto get_features = (ggml_backend_get_features_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
    if (get_features == nullptr || std::string(ggml_backend_reg_name(reg)) != "CPU") continue;
    for (ggml_backend_feature* f = get_features(reg); f != nullptr && f->name != nullptr; f++) {
      if (std::string(f->value) == "1") features.Set(features.Length(), f->name);
    }
  }
  cpu.Set("features", features);
  out.Set("cpu", cpu);
  out.Set("ram", ram);
  out.Set("gpus", gpus);
  out.Set("backends", backends);
  out.Set("systemInfo", llama_print_system_info());
  out.Set("supportsGpuOffload", llama_supports_gpu_offload());
  out.Set("supportsMmap", llama_supports_mmap());
  out.Set("supportsMlock", llama_supports_mlock());
  return out;
}

static Napi::Value SetLogLevelJs(const Napi::CallbackInfo& info) {
  SetLogLevel(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

static void Cleanup(void* arg) {
  // Environment teardown (process exit or worker end): abort every request, stop and join every
  // scheduler thread before the addon's code can go away.
  auto* data = static_cast<AddonData*>(arg);
  data->env_closing->store(true);
  std::set<std::shared_ptr<ModelCore>> cores;
  {
    std::lock_guard<std::mutex> lock(data->mutex);
    cores.swap(data->cores);
  }
  for (auto& core : cores) core->Close(true, nullptr);
  for (auto& core : cores) core->Join();
}

// shutdown(): called from process.on('exit'). process.exit() runs C++ static destructors (ggml's
// among them) without environment cleanup first, so scheduler threads must be stopped before that.
static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data != nullptr) Cleanup(data);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    InstallLogger();
    llama_backend_init();
  });
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  napi_add_env_cleanup_hook(env, Cleanup, data);

  Napi::Function model_ctor = Model::Define(env);
  data->model_ctor = Napi::Persistent(model_ctor);
  exports.Set("Model", model_ctor);
  exports.Set("Slot", Slot::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("estimateMemory", Napi::Function::New(env, EstimateMemory, "estimateMemory"));
  exports.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevelJs, "setLogLevel"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("llamaVersion", Napi::String::New(env, llama_version()));
  return exports;
}

}  // namespace modelpool

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return modelpool::Init(env, exports); }
NODE_API_MODULE(modelpool, InitModule)
