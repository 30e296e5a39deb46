// Slot: the hot-swap primitive. Holds the current model; replace() publishes a new one atomically.
// A request takes the current core under the lock and is queued on it before the lock is released, so
// a request accepted before replace() finishes on the old model and nothing is ever lost in between.
//
// Thread-safety: every method runs on the JavaScript thread; the lock orders them against each other.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>

#include "model_core.h"

namespace modelpool {

class Slot : public Napi::ObjectWrap<Slot> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Slot(const Napi::CallbackInfo& info);

 private:
  // Publishes `model` (a Model, checked) as the current model.
  void Set(const Napi::Value& model_value);
  Napi::Value Replace(const Napi::CallbackInfo& info);
  Napi::Value Current(const Napi::CallbackInfo& info);
  Napi::Value Generation(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);

  std::mutex mutex_;
  std::shared_ptr<ModelCore> core_;
  Napi::ObjectReference model_ref_;
  uint64_t generation_ = 0;
};

}  // namespace modelpool
