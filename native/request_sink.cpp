#include "request_sink.h"

#include <algorithm>

#include "addon_data.h"

namespace modelpool {

// The one place a finish reason becomes the string JavaScript sees (NativeResult.finishReason). A request
// that failed has none: its result carries errorCode instead.
static const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Eos: return "eos";
    case FinishReason::Abort: return "abort";
    case FinishReason::None: break;
  }
  return "";
}

// [{ id, text, logprob, top?: [{ id, text, logprob }] }]: the token text is made here, on the
// JavaScript thread (llama_token_to_piece only reads the immutable vocabulary).
static Napi::String TokenText(Napi::Env env, const llama_vocab* vocab, llama_token id) {
  char buf[256];
  int32_t n = llama_token_to_piece(vocab, id, buf, sizeof(buf), 0, true);
  if (n >= 0) return Napi::String::New(env, buf, (size_t)n);
  std::string big((size_t)-n, '\0');
  n = llama_token_to_piece(vocab, id, big.data(), (int32_t)big.size(), 0, true);
  return Napi::String::New(env, big.data(), (size_t)std::max(n, 0));
}

static Napi::Array ProbsToJs(Napi::Env env, const llama_vocab* vocab, const std::vector<TokenProb>& probs) {
  Napi::Array out = Napi::Array::New(env, probs.size());
  for (size_t i = 0; i < probs.size(); i++) {
    const TokenProb& p = probs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", p.id);
    o.Set("text", TokenText(env, vocab, p.id));
    o.Set("logprob", p.logprob);
    if (!p.top.empty()) {
      Napi::Array top = Napi::Array::New(env, p.top.size());
      for (size_t k = 0; k < p.top.size(); k++) {
        Napi::Object t = Napi::Object::New(env);
        t.Set("id", p.top[k].first);
        t.Set("text", TokenText(env, vocab, p.top[k].first));
        t.Set("logprob", p.top[k].second);
        top.Set((uint32_t)k, t);
      }
      o.Set("top", top);
    }
    out.Set((uint32_t)i, o);
  }
  return out;
}

JsRequestSink::JsRequestSink(Napi::Env env, Napi::Function callback, std::shared_ptr<Request> request)
    : request_(request) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "modelpool.generate", 0, 1);
  KeepCleanupFirst(env);
}

void JsRequestSink::TextReady() {
  if (text_pending_.exchange(true)) return;
  std::shared_ptr<Request> r = request_.lock();
  if (!r) return;
  auto* self = this;
  tsfn_.NonBlockingCall([r, self](Napi::Env env, Napi::Function cb) {
    self->text_pending_ = false;
    std::vector<TokenProb> probs;
    std::string text = r->TakeText(&probs);
    if (text.empty() || env == nullptr) return;
    if (probs.empty()) {
      cb.Call({Napi::String::New(env, "text"), Napi::String::New(env, text)});
    } else {
      cb.Call({Napi::String::New(env, "text"), Napi::String::New(env, text), env.Undefined(), ProbsToJs(env, r->vocab, probs)});
    }
  });
}

void JsRequestSink::Finished() {
  std::shared_ptr<Request> r = request_.lock();
  // The sink is owned by the request: keep both alive until the final call ran.
  std::shared_ptr<RequestSink> keep = r ? r->sink : nullptr;
  napi_status st = tsfn_.NonBlockingCall([r, keep](Napi::Env env, Napi::Function cb) {
    if (env == nullptr || !r) return;
    std::vector<TokenProb> probs;
    std::string text = r->TakeText(&probs);
    Napi::Object result = Napi::Object::New(env);
    std::lock_guard<std::mutex> lock(r->out_mutex);
    const RequestStats& s = r->stats;
    if (!r->error.ok()) {
      result.Set("errorCode", ErrorCodeName(r->error.code));
      result.Set("errorMessage", r->error.message);
    }
    result.Set("finishReason", FinishReasonName(r->finish_reason));
    result.Set("text", r->full_text);
    result.Set("promptTokens", s.prompt_tokens);
    result.Set("cachedPromptTokens", s.cached_prompt_tokens);
    if (r->n_probs >= 0) result.Set("logprobs", ProbsToJs(env, r->vocab, r->all_probs));
    if (r->kind == Request::Kind::Prefill && r->error.ok() && r->finish_reason == FinishReason::Stop) {
      Napi::Int32Array tokens = Napi::Int32Array::New(env, r->prompt.size());
      std::copy(r->prompt.begin(), r->prompt.end(), tokens.Data());
      result.Set("stateTokens", tokens);
      result.Set("state", Napi::Buffer<uint8_t>::Copy(env, r->kv_state.data(), r->kv_state.size()));
    }
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
    if (probs.empty()) {
      cb.Call({Napi::String::New(env, "done"), Napi::String::New(env, text), result});
    } else {
      cb.Call({Napi::String::New(env, "done"), Napi::String::New(env, text), result, ProbsToJs(env, r->vocab, probs)});
    }
  });
  (void)st;
  tsfn_.Release();
}

void JsRequestSink::Abandon() { tsfn_.Release(); }

Napi::Object MakeRequestHandle(Napi::Env env, std::shared_ptr<ModelCore> core, std::shared_ptr<Request> request) {
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

}  // namespace modelpool
