#include "model_adapter_worker.h"

#include "arguments.h"
#include "model.h"

namespace modelpool {

class ModelAdapterWorker : public Napi::AsyncWorker {
 public:
  ModelAdapterWorker(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, std::string name, std::string path)
      : Napi::AsyncWorker(env, "modelpool.loadAdapter"),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        core_(std::move(core)),
        name_(std::move(name)),
        path_(std::move(path)) {
    // The Model object must outlive the load even when JavaScript drops it meanwhile.
    owner_->Ref();
  }
  ~ModelAdapterWorker() override { owner_->Unref(); }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const double t0 = NowMs();
    error_ = core_->AddAdapter(name_, path_);
    // Wall time as the caller sees it: the wait for the decode step in progress, then the load.
    load_ms_ = NowMs() - t0;
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.ok()) {
      deferred_.Reject(MakeError(env, error_.code, error_.message).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name_);
    o.Set("path", path_);
    o.Set("loadMs", load_ms_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Model* owner_;
  std::shared_ptr<ModelCore> core_;
  std::string name_;
  std::string path_;
  NativeError error_;
  double load_ms_ = 0;
};

Napi::Promise QueueAdapterLoad(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, std::string name,
                               std::string path) {
  auto* worker = new ModelAdapterWorker(env, owner, std::move(core), std::move(name), std::move(path));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace modelpool
