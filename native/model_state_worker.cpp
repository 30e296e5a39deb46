#include "model_state_worker.h"

#include <algorithm>

#include "arguments.h"
#include "model.h"

namespace modelpool {

// One worker for both directions: Execute runs `work` (which waits for the scheduler), OnOK turns
// the outcome into JavaScript with `resolve`.
class ModelStateWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<NativeError()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;
  ModelStateWorker(Napi::Env env, const char* name, Model* owner, Work work, Resolve resolve)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        owner_(owner),
        work_(std::move(work)),
        resolve_(std::move(resolve)) {
    owner_->Ref();
  }
  ~ModelStateWorker() override { owner_->Unref(); }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { error_ = work_(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.ok()) {
      deferred_.Reject(MakeError(env, error_.code, error_.message).Value());
      return;
    }
    deferred_.Resolve(resolve_(env));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Model* owner_;
  Work work_;
  Resolve resolve_;
  NativeError error_;
};

static Napi::Promise Queue(ModelStateWorker* worker) {
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Promise QueueStateSave(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, size_t min_tokens) {
  auto saved = std::make_shared<std::vector<ModelCore::SavedSequence>>();
  return Queue(new ModelStateWorker(
      env, "modelpool.savePromptCache", owner, [core, saved, min_tokens] { return core->SaveCachedSequences(min_tokens, *saved); },
      [saved](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, saved->size());
        for (size_t i = 0; i < saved->size(); i++) {
          const ModelCore::SavedSequence& s = (*saved)[i];
          Napi::Object o = Napi::Object::New(env);
          Napi::Int32Array tokens = Napi::Int32Array::New(env, s.tokens.size());
          std::copy(s.tokens.begin(), s.tokens.end(), tokens.Data());
          o.Set("tokens", tokens);
          o.Set("data", Napi::Buffer<uint8_t>::Copy(env, s.data.data(), s.data.size()));
          if (!s.adapter.empty()) {
            o.Set("adapter", s.adapter);
            o.Set("adapterScale", s.adapter_scale);
          }
          out.Set((uint32_t)i, o);
        }
        return out;
      }));
}

Napi::Promise QueueStateRestore(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, ModelCore::SavedSequence saved) {
  auto seq = std::make_shared<int32_t>(-1);
  auto input = std::make_shared<ModelCore::SavedSequence>(std::move(saved));
  return Queue(new ModelStateWorker(
      env, "modelpool.restoreState", owner, [core, input, seq] { return core->RestoreSequence(*input, *seq); },
      [seq](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *seq); }));
}

}  // namespace modelpool
