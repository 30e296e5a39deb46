// Model: the JavaScript object for one ModelCore (loaded by ModelLoadWorker, never constructed by
// JavaScript). Its methods convert their arguments once and hand the work to the core: generation and
// embeddings run on the core's scheduler thread, everything else is immediate.
//
// Thread-safety: every method runs on the JavaScript thread; close() resolves there too, after the
// scheduler thread has freed the model.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "model_core.h"

namespace modelpool {

class Model : public Napi::ObjectWrap<Model> {
 public:
  // Tags every Model object, so that RequireInstance<Model> can tell a Model from another wrapped object.
  static constexpr napi_type_tag kTypeTag{0x6d6f64656c706f6fULL, 0x4d6f64656c000001ULL};
  static constexpr const char* kClassName = "Model";

  static Napi::Function Define(Napi::Env env);
  explicit Model(const Napi::CallbackInfo& info);
  ~Model() override;

  std::shared_ptr<ModelCore> core() const { return core_; }

  // generate(options, callback) -> { abort(), promptTokens } on `core`, checking both arguments.
  // Also used by Slot.
  static Napi::Value SubmitGenerate(Napi::Env env, const std::shared_ptr<ModelCore>& core, const Napi::Value& options,
                                    const Napi::Value& callback, bool notify = true);

 private:
  ModelCore& Live(Napi::Env env);
  void Forget();

  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value MemoryJs(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value Detokenize(const Napi::CallbackInfo& info);
  Napi::Value ApplyChatTemplate(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value WakeJs(const Napi::CallbackInfo& info);
  Napi::Value Embed(const Napi::CallbackInfo& info);
  Napi::Value SavePromptCache(const Napi::CallbackInfo& info);
  Napi::Value RestoreState(const Napi::CallbackInfo& info);
  Napi::Value SetThreads(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // LoRA adapters (bodies at the end of model.cpp; loading in model_adapter_worker.cpp).
  Napi::Value LoadAdapter(const Napi::CallbackInfo& info);
  Napi::Value RemoveAdapter(const Napi::CallbackInfo& info);
  Napi::Value Adapters(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelCore> core_;
  int64_t external_bytes_ = 0;
  std::vector<std::shared_ptr<Napi::Promise::Deferred>> closed_waiters_;
};

}  // namespace modelpool
