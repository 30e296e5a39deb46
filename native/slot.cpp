#include "slot.h"

#include "arguments.h"
#include "model.h"

namespace modelpool {

Napi::Function Slot::Define(Napi::Env env) {
  return DefineClass(env, "Slot",
                     {InstanceMethod<&Slot::Replace>("replace"),
                      InstanceMethod<&Slot::Generate>("generate"),
                      InstanceMethod<&Slot::Current>("current"),
                      InstanceMethod<&Slot::Generation>("generation")});
}

Slot::Slot(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Slot>(info) { Set(info[0]); }

void Slot::Set(const Napi::Value& model_value) {
  Model* model = RequireInstance<Model>(model_value, "model");
  Napi::Object model_obj = model_value.As<Napi::Object>();
  std::shared_ptr<ModelCore> core = model->core();
  if (!core || core->Closing()) throw MakeError(Env(), ErrorCode::Disposed, "the model has been disposed");
  std::lock_guard<std::mutex> lock(mutex_);
  core_ = core;
  model_ref_ = Napi::Persistent(model_obj);
  generation_++;
}

Napi::Value Slot::Replace(const Napi::CallbackInfo& info) {
  Napi::Value previous = model_ref_.Value();
  Set(info[0]);
  return previous;
}

Napi::Value Slot::Current(const Napi::CallbackInfo&) { return model_ref_.Value(); }

Napi::Value Slot::Generation(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)generation_); }

Napi::Value Slot::Generate(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!core_ || core_->Closing()) throw MakeError(info.Env(), ErrorCode::Disposed, "the slot's model has been disposed");
  Napi::Object handle =
      Model::SubmitGenerate(info.Env(), core_, info[0], info[1]).As<Napi::Object>();
  handle.Set("model", model_ref_.Value());
  return handle;
}

}  // namespace modelpool
