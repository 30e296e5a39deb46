#include "model.h"

#include <algorithm>

#include "addon_data.h"
#include "arguments.h"
#include "js_convert.h"
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
                         InstanceMethod<&Model::SetThreads>("setThreads"),
                         InstanceMethod<&Model::Stats>("stats"),
                         InstanceMethod<&Model::Close>("close"),
                     });
}

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  // Constructed only by ModelLoadWorker, which passes the core through an External.
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw MakeError(info.Env(), ErrorCode::InvalidArgument, "Model cannot be constructed directly; use loadModel()");
  }
  core_ = *info[0].As<Napi::External<std::shared_ptr<ModelCore>>>().Data();
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
  std::string text = info[0].As<Napi::String>().Utf8Value();
  bool add_special = info[1].As<Napi::Boolean>().Value();
  bool parse_special = info[2].As<Napi::Boolean>().Value();
  std::vector<llama_token> tokens = TokenizeText(core, text, add_special, parse_special);
  Napi::Int32Array out = Napi::Int32Array::New(env, tokens.size());
  std::copy(tokens.begin(), tokens.end(), out.Data());
  return out;
}

Napi::Value Model::Detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  Napi::Int32Array arr = info[0].As<Napi::Int32Array>();
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
    throw MakeError(env, ErrorCode::InvalidArgument,
                    "the model's chat template is not one llama.cpp supports; pass a formatted prompt instead");
  }
  out.resize((size_t)n);
  return Napi::String::New(env, out);
}

Napi::Value Model::SubmitGenerate(Napi::Env env, const std::shared_ptr<ModelCore>& core, const Napi::Object& o,
                                  const Napi::Function& callback, bool notify) {
  if (core->embeddings()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "this model was loaded for embeddings; load it without embeddings to generate");
  }
  auto request = std::make_shared<Request>();
  request->prompt = TokenizeText(*core, o.Get("prompt").As<Napi::String>().Utf8Value(),
                                 o.Get("addSpecial").As<Napi::Boolean>().Value(),
                                 o.Get("parseSpecial").As<Napi::Boolean>().Value());
  if (request->prompt.empty()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "Expected a prompt that tokenizes to at least one token for prompt but received an empty prompt");
  }
  if (request->prompt.size() + 1 > core->context_size()) {
    throw MakeError(env, ErrorCode::ContextOverflow,
                    "the prompt has " + std::to_string(request->prompt.size()) + " tokens but the context holds " +
                        std::to_string(core->context_size()) + " tokens per sequence");
  }
  request->max_tokens = o.Get("maxTokens").As<Napi::Number>().Int32Value();
  Napi::Array stop = o.Get("stop").As<Napi::Array>();
  for (uint32_t i = 0; i < stop.Length(); i++) request->stop.push_back(stop.Get(i).As<Napi::String>().Utf8Value());
  request->sampler = BuildSampler(env, *core, o);
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
// turn of the event loop (src/engine/engine.ts does it in a microtask).
Napi::Value Model::Generate(const Napi::CallbackInfo& info) {
  Live(info.Env());
  const bool defer = info.Length() > 2 && info[2].ToBoolean().Value();
  return SubmitGenerate(info.Env(), core_, info[0].As<Napi::Object>(), info[1].As<Napi::Function>(), !defer);
}

Napi::Value Model::WakeJs(const Napi::CallbackInfo& info) {
  if (core_) core_->Wake();
  return info.Env().Undefined();
}

Napi::Value Model::Embed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelCore& core = Live(env);
  if (!core.embeddings()) {
    throw MakeError(env, ErrorCode::InvalidArgument, "this model was not loaded for embeddings; load it with { embeddings: true }");
  }
  Napi::Array texts = info[0].As<Napi::Array>();
  auto request = std::make_shared<Request>();
  request->kind = Request::Kind::Embed;
  for (uint32_t i = 0; i < texts.Length(); i++) {
    std::vector<llama_token> tokens = TokenizeText(core, texts.Get(i).As<Napi::String>().Utf8Value(), true, false);
    if (tokens.empty() || tokens.size() > core.context_size()) {
      throw MakeError(env, tokens.empty() ? ErrorCode::InvalidArgument : ErrorCode::ContextOverflow,
                      "texts[" + std::to_string(i) + "] has " + std::to_string(tokens.size()) +
                          " tokens; embeddings need between 1 and " + std::to_string(core.context_size()));
    }
    request->embed_inputs.push_back(std::move(tokens));
  }
  auto sink = std::make_shared<JsRequestSink>(env, info[1].As<Napi::Function>(), request);
  request->sink = sink;
  if (!core.Submit(request)) {
    sink->Abandon();
    request->sink.reset();
    throw MakeError(env, ErrorCode::Disposed, "the model has been disposed");
  }
  return MakeRequestHandle(env, core_, request);
}

Napi::Value Model::SetThreads(const Napi::CallbackInfo& info) {
  Live(info.Env()).SetThreads(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value());
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

}  // namespace modelpool
