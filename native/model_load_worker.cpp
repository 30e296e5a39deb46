#include "model_load_worker.h"

#include <atomic>
#include <memory>

#include "addon_data.h"
#include "arguments.h"
#include "js_convert.h"
#include "model_core.h"

namespace modelpool {

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
    if (error_.ok() && (aborted_->load() || env_closing_->load())) error_ = {ErrorCode::Aborted, "model load was aborted"};
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
    data_->adopting = core_;
    try {
      deferred_.Resolve(data_->model_ctor.New({}));
    } catch (const Napi::Error& e) {
      // Cannot happen short of running out of memory; the core stays registered, so Cleanup still joins it.
      data_->adopting.reset();
      core_->Close(true, nullptr);
      deferred_.Reject(e.Value());
    }
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

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  LoadParams params = ReadLoadParams(info[0], "params");
  Napi::Function on_progress = info[1].IsUndefined() ? Napi::Function() : RequireFunction(info[1], "onProgress");
  auto* worker = new ModelLoadWorker(env, std::move(params), on_progress, data);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", worker->Promise());
  std::shared_ptr<std::atomic<bool>> flag = worker->AbortFlag();
  handle.Set("abort", Napi::Function::New(env, [flag](const Napi::CallbackInfo&) { flag->store(true); }));
  worker->Queue();
  return handle;
}

}  // namespace modelpool
