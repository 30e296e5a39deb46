// A request's two JavaScript ends: the handle JavaScript holds (abort(), promptTokens) and the sink
// that delivers its text and result to one JavaScript callback: cb(kind, text, result?).
//
// Thread-safety: the constructor, Abandon() and MakeRequestHandle run on the JavaScript thread;
// TextReady() and Finished() on the scheduler thread (they only queue calls to JavaScript).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "model_core.h"
#include "request.h"

namespace modelpool {

class JsRequestSink : public RequestSink {
 public:
  JsRequestSink(Napi::Env env, Napi::Function callback, std::shared_ptr<Request> request);
  void TextReady() override;
  void Finished() override;
  // The request was never queued: let go of the callback so it does not hold the event loop open.
  void Abandon();

 private:
  Napi::ThreadSafeFunction tsfn_;
  std::weak_ptr<Request> request_;
  std::atomic<bool> text_pending_{false};
};

// { abort(), promptTokens }: abort() reaches the request while both it and its core are alive.
Napi::Object MakeRequestHandle(Napi::Env env, std::shared_ptr<ModelCore> core, std::shared_ptr<Request> request);

}  // namespace modelpool
