#include "model_estimate_worker.h"

#include <vector>

#include "arguments.h"
#include "js_convert.h"
#include "model_core.h"

namespace modelpool {

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

Napi::Value EstimateMemory(const Napi::CallbackInfo& info) {
  auto* worker = new ModelEstimateWorker(info.Env(), ReadLoadParams(info[0], "params"));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace modelpool
