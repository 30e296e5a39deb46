#include "model.h"

#include <algorithm>
#include <cstdint>

#include "addon_data.h"
#include "arguments.h"
#include "js_convert.h"
#include "model_adapter_worker.h"
#include "model_state_worker.h"
#include "request_sink.h"
#include "sampler.h"

namespace modelpool {

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

Napi::Function Model::Define(Napi::Env env) {
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
                         InstanceMethod<&Model::SavePromptCache>("savePromptCache"),
                         InstanceMethod<&Model::RestoreState>("restoreState"),
                         InstanceMethod<&Model::SetThreads>("setThreads"),
                         InstanceMethod<&Model::Stats>("stats"),
                         InstanceMethod<&Model::Close>("close"),
                         InstanceMethod<&Model::LoadAdapter>("loadAdapter"),
                         InstanceMethod<&Model::RemoveAdapter>("removeAdapter"),
                         InstanceMethod<&Model::Adapters>("adapters"),
                     });
}

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  // Constructed only by ModelLoadWorker, which hands over the loaded core through the addon's data.
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data == nullptr || !data->adopting) {
    throw MakeTypeError(info.Env(), "Model cannot be constructed directly; use loadModel()");
  }
  core_ = std::move(data->adopting);
  info.This().As<Napi::Object>().TypeTag(&kTypeTag);
  external_bytes_ = (int64_t)MemoryTotal(core_->Memory());
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), external_bytes_);
}

Model::~Model() {
  // Safety net only: dispose() is the way to free a model. Dropping the core here aborts its requests.
  if (core_) {
    core_->Close(true, nullptr);
    Forget();
  }
}

ModelCore& Model::Live(Napi::Env env) {
  if (!core_ || core_->Closing()) throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  return *core_;
}

void Model::Forget() {
  AddonData* data = Env().GetInstanceData<AddonData>();
  if (data != nullptr) {
    std::lock_guard<std::mutex> lock(data->mutex);
    data->cores.erase(core_);
  }
  core_.reset();
}

Napi::Value Model::Info(const Napi::CallbackInfo& info) {
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

Napi::Value Model::MemoryJs(const Napi::CallbackInfo& info) { return MemoryToJs(info.Env(), Live(info.Env()).Memory()); }

Napi::Value Model::Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  const std::string text = RequireString(info[0], "text");
  const bool add_special = RequireBoolean(info[1], "addSpecial");
  const bool parse_special = RequireBoolean(info[2], "parseSpecial");
  std::vector<llama_token> tokens = TokenizeText(core, text, add_special, parse_special);
  Napi::Int32Array out = Napi::Int32Array::New(env, tokens.size());
  std::copy(tokens.begin(), tokens.end(), out.Data());
  return out;
}

Napi::Value Model::Detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  Napi::Int32Array arr = RequireInt32Array(info[0], "tokens");
  const int32_t n_vocab = llama_vocab_n_tokens(core.vocab());
  for (size_t i = 0; i < arr.ElementLength(); i++) {
    if (arr[i] < 0 || arr[i] >= n_vocab) {
      throw MakeError(env, ErrorCode::InvalidArgument,
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

Napi::Value Model::ApplyChatTemplate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  Napi::Array messages = RequireArray(info[0], "messages");
  const bool add_assistant = RequireBoolean(info[1], "addAssistant");
  std::vector<std::string> roles, contents;
  for (uint32_t i = 0; i < messages.Length(); i++) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    Napi::Object m = RequireObject(messages.Get(i), name);
    roles.push_back(RequireString(m.Get("role"), name + ".role"));
    contents.push_back(RequireString(m.Get("content"), name + ".content"));
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
    throw MakeError(env, ErrorCode::InvalidArgument,
                    "the model's chat template is not one llama.cpp supports; pass a formatted prompt instead");
  }
  out.resize((size_t)n);
  return Napi::String::New(env, out);
}

// Token ids from JavaScript, each checked against the vocabulary.
static std::vector<llama_token> ReadTokens(Napi::Env env, const Napi::Value& value, const std::string& name,
                                           const llama_vocab* vocab) {
  Napi::Int32Array array = RequireInt32Array(value, name);
  const int32_t n_vocab = llama_vocab_n_tokens(vocab);
  std::vector<llama_token> tokens(array.Data(), array.Data() + array.ElementLength());
  for (size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      throw MakeError(env, ErrorCode::InvalidArgument,
                      "Expected a token id in [0, " + std::to_string(n_vocab) + ") for " + name + "[" + std::to_string(i) +
                          "] but received " + std::to_string(tokens[i]));
    }
  }
  return tokens;
}

Napi::Value Model::SubmitGenerate(Napi::Env env, const std::shared_ptr<ModelCore>& core, const Napi::Value& options,
                                  const Napi::Value& callback_value, bool notify) {
  Napi::Object o = RequireObject(options, "options");
  Napi::Function callback = RequireFunction(callback_value, "callback");
  if (core->embeddings()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "this model was loaded for embeddings; load it without embeddings to generate");
  }
  auto request = std::make_shared<Request>();
  request->vocab = core->vocab();
  request->cache_prompt = RequireBoolean(o.Get("cachePrompt"), "options.cachePrompt");
  const bool evaluate = !o.Get("continuationTokens").IsUndefined();
  // A generation reports at most 20 alternatives a token (OpenAI's limit); an evaluation may ask for the
  // whole vocabulary, so that divergences between two models are exact on small vocabularies.
  const int32_t max_probs = evaluate ? llama_vocab_n_tokens(core->vocab()) : 20;
  request->n_probs = (int32_t)RequireInteger(o.Get("logprobs"), "options.logprobs", -1, max_probs);
  Napi::Value adapter = o.Get("adapter");
  if (!adapter.IsUndefined()) {
    const std::string name = RequireString(adapter, "options.adapter");
    request->adapter = core->FindAdapter(name);
    if (!request->adapter) {
      throw MakeError(env, ErrorCode::InvalidArgument,
                      "Expected the name of an adapter loaded on this model for request.adapter but received \"" + name + "\"");
    }
    request->adapter_scale = (float)RequireNumber(o.Get("adapterScale"), "options.adapterScale", -100, 100);
  }
  const bool save_state = OptionalBoolean(o.Get("saveState"), "options.saveState", false);
  if (!o.Get("promptTokens").IsUndefined()) {
    request->prompt = ReadTokens(env, o.Get("promptTokens"), "options.promptTokens", core->vocab());
  } else {
    const std::string prompt = RequireString(o.Get("prompt"), "options.prompt");
    const bool add_special = RequireBoolean(o.Get("addSpecial"), "options.addSpecial");
    const bool parse_special = RequireBoolean(o.Get("parseSpecial"), "options.parseSpecial");
    request->prompt = TokenizeText(*core, prompt, add_special, parse_special);
  }
  if (request->prompt.empty()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "Expected a prompt that tokenizes to at least one token for prompt but received an empty prompt");
  }
  if (evaluate) {
    request->kind = Request::Kind::Evaluate;
    std::vector<llama_token> continuation = ReadTokens(env, o.Get("continuationTokens"), "options.continuationTokens", core->vocab());
    if (continuation.empty()) {
      throw MakeError(env, ErrorCode::InvalidArgument, "Expected at least one token for continuation but received none");
    }
    request->score_from = request->prompt.size();
    request->prompt.insert(request->prompt.end(), continuation.begin(), continuation.end());
    if (request->n_probs < 0) request->n_probs = 0;
  }
  if (request->prompt.size() + (evaluate ? 0 : 1) > core->context_size()) {
    throw MakeError(env, ErrorCode::ContextOverflow,
                    "the prompt has " + std::to_string(request->prompt.size()) + " tokens but the context holds " +
                        std::to_string(core->context_size()) + " tokens per sequence");
  }
  if (save_state) {
    request->kind = Request::Kind::Prefill;
  } else if (!evaluate) {
    request->max_tokens = (int32_t)RequireInteger(o.Get("maxTokens"), "options.maxTokens", 1, INT32_MAX);
    Napi::Array stop = RequireArray(o.Get("stop"), "options.stop");
    for (uint32_t i = 0; i < stop.Length(); i++) {
      request->stop.push_back(RequireNonEmptyString(stop.Get(i), "options.stop[" + std::to_string(i) + "]"));
    }
    const SamplerParams sampler = ReadSamplerParams(o, "options");
    NativeError error;
    request->sampler = BuildSampler(core->vocab(), sampler, error);
    if (request->sampler == nullptr) throw MakeError(env, error.code, error.message);
  }
  auto sink = std::make_shared<JsRequestSink>(env, callback, request);
  request->sink = sink;
  if (!core->Submit(request, notify)) {
    sink->Abandon();
    request->sink.reset();
    throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  }
  return MakeRequestHandle(env, core, request);
}

// generate(options, callback, deferWake): with deferWake the caller calls wake() later in the same
// turn of the event loop (src/engine/request.ts does it in a microtask).
Napi::Value Model::Generate(const Napi::CallbackInfo& info) {
  Live(info.Env());
  const bool defer = OptionalBoolean(info[2], "deferWake", false);
  return SubmitGenerate(info.Env(), core_, info[0], info[1], !defer);
}

// wake(), stats() and close() also work on a disposed model, on purpose: src/engine/ wakes the scheduler
// from a microtask that may run after dispose(), and reads stats and disposes at any time.
Napi::Value Model::WakeJs(const Napi::CallbackInfo& info) {
  if (core_) core_->Wake();
  return info.Env().Undefined();
}

Napi::Value Model::Embed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  Napi::Array texts = RequireArray(info[0], "texts");
  Napi::Function callback = RequireFunction(info[1], "callback");
  if (!core.embeddings()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "this model was not loaded for embeddings; load it with { embeddings: true }");
  }
  auto request = std::make_shared<Request>();
  request->kind = Request::Kind::Embed;
  for (uint32_t i = 0; i < texts.Length(); i++) {
    const std::string text = RequireString(texts.Get(i), "texts[" + std::to_string(i) + "]");
    std::vector<llama_token> tokens = TokenizeText(core, text, true, false);
    if (tokens.empty() || tokens.size() > core.context_size()) {
      // A text is never split: it must fit one sequence (and so one batch, see model_core_embed.cpp).
      throw MakeError(env, tokens.empty() ? ErrorCode::InvalidArgument : ErrorCode::ContextOverflow,
                      "texts[" + std::to_string(i) + "] has " + std::to_string(tokens.size()) +
                          " tokens; embeddings need between 1 and " + std::to_string(core.context_size()) +
                          " (the context of one sequence)");
    }
    request->embed_inputs.push_back(std::move(tokens));
  }
  auto sink = std::make_shared<JsRequestSink>(env, callback, request);
  request->sink = sink;
  if (!core.Submit(request)) {
    sink->Abandon();
    request->sink.reset();
    throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  }
  return MakeRequestHandle(env, core_, request);
}

Napi::Value Model::SetThreads(const Napi::CallbackInfo& info) {
  ModelCore& core = Live(info.Env());
  const auto threads = (int32_t)RequireInteger(info[0], "threads", 1, 1024);
  const auto batch_threads = (int32_t)RequireInteger(info[1], "batchThreads", 1, 1024);
  core.SetThreads(threads, batch_threads);
  return info.Env().Undefined();
}

Napi::Value Model::Stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("threads", core_ ? core_->Threads() : 0);
  o.Set("activeRequests", core_ ? (double)core_->ActiveRequests() : 0.0);
  o.Set("decodeSteps", core_ ? (double)core_->DecodeSteps() : 0.0);
  o.Set("closed", !core_ || core_->Closing());
  return o;
}

// close(abort) -> Promise<void>: resolves when the scheduler thread has freed everything.
Napi::Value Model::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool abort = OptionalBoolean(info[0], "abort", false);
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

// loadAdapter(name, path) -> Promise<{ name, path, loadMs }>. src/engine/adapters.ts has validated the
// file against this model: llama.cpp rejects a bad adapter with a log line, and some corrupt files abort.
Napi::Value Model::LoadAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  std::string name = RequireNonEmptyString(info[0], "name");
  std::string path = RequireNonEmptyString(info[1], "path");
  return QueueAdapterLoad(env, this, core_, std::move(name), std::move(path));
}

// removeAdapter(name) -> whether an adapter of that name was loaded. Requests using it finish with it.
Napi::Value Model::RemoveAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  return Napi::Boolean::New(env, core.RemoveAdapter(RequireNonEmptyString(info[0], "name")));
}

Napi::Value Model::Adapters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> names = Live(env).AdapterNames();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); i++) out.Set(i, names[i]);
  return out;
}

// savePromptCache(minTokens) -> Promise<[{ tokens, data, adapter?, adapterScale? }]>: the KV state of
// every free sequence whose prompt cache holds at least minTokens tokens.
Napi::Value Model::SavePromptCache(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Live(env);
  const size_t min_tokens = (size_t)RequireInteger(info[0], "minTokens", 1, INT32_MAX);
  return QueueStateSave(env, this, core_, min_tokens);
}

// restoreState({ tokens, data, adapter?, adapterScale? }) -> Promise<sequence>: into a free sequence,
// as its prompt cache. src/engine/state.ts has checked that the state comes from this model's file.
Napi::Value Model::RestoreState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  Napi::Object o = RequireObject(info[0], "state");
  ModelCore::SavedSequence saved;
  saved.tokens = ReadTokens(env, o.Get("tokens"), "state.tokens", core.vocab());
  Napi::Value data = o.Get("data");
  if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw ArgumentError(env, "state.data", "a Uint8Array", data);
  }
  Napi::Uint8Array bytes = data.As<Napi::Uint8Array>();
  saved.data.assign(bytes.Data(), bytes.Data() + bytes.ElementLength());
  if (!o.Get("adapter").IsUndefined()) {
    saved.adapter = RequireNonEmptyString(o.Get("adapter"), "state.adapter");
    saved.adapter_scale = (float)RequireNumber(o.Get("adapterScale"), "state.adapterScale", -100, 100);
  }
  return QueueStateRestore(env, this, core_, std::move(saved));
}

}  // namespace modelpool
