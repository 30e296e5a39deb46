// The Node-API surface of modelpool: module initialisation and the list of exports. JavaScript validates
// every argument (src/engine/) and passes plain objects; each export converts them once into C++ structs
// on the JavaScript thread. Blocking llama.cpp work runs in AsyncWorkers (load, estimate, quantize) or on
// each model's scheduler thread. src/engine/native.ts describes the exact shape of these exports.
//
//   model.{h,cpp}                   Model, the JavaScript object of one loaded model
//   slot.{h,cpp}                    Slot, the hot-swap primitive
//   model_load_worker.{h,cpp}       loadModel       model_estimate_worker.{h,cpp}   estimateMemory
//   model_quantize_worker.{h,cpp}   quantize        device_info.{h,cpp}             deviceInfo
//   request_sink, sampler, js_convert               the JavaScript side of a request and of the load options
//   arguments, addon_data                           argument checks and typed errors; per-environment state
//   model_core*, request, errors, memory, log,      the core: no Node-API, one scheduler thread per model
//   cpu_time
#include <napi.h>

#include <mutex>

#include "addon_data.h"
#include "arguments.h"
#include "device_info.h"
#include "llama.h"
#include "log.h"
#include "model.h"
#include "model_estimate_worker.h"
#include "model_load_worker.h"
#include "model_quantize_worker.h"
#include "slot.h"

namespace modelpool {

static Napi::Value SetLogLevelJs(const Napi::CallbackInfo& info) {
  SetLogLevel((int)RequireInteger(info[0], "level", GGML_LOG_LEVEL_NONE, GGML_LOG_LEVEL_CONT));
  return info.Env().Undefined();
}

// shutdown(): called from process.on('exit'). process.exit() runs C++ static destructors (ggml's
// among them) without environment cleanup first, so scheduler threads must be stopped before that.
static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  if (data != nullptr) Cleanup(data);
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    InstallLogger();
    llama_backend_init();
  });
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  napi_add_env_cleanup_hook(env, Cleanup, data);

  Napi::Function model_ctor = Model::Define(env);
  data->model_ctor = Napi::Persistent(model_ctor);
  exports.Set("Slot", Slot::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("estimateMemory", Napi::Function::New(env, EstimateMemory, "estimateMemory"));
  exports.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("setLogLevel", Napi::Function::New(env, SetLogLevelJs, "setLogLevel"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("llamaVersion", Napi::String::New(env, llama_version()));
  exports.Set("errorCodes", ErrorCodesToJs(env));
  return exports;
}

}  // namespace modelpool

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return modelpool::Init(env, exports); }
NODE_API_MODULE(modelpool, InitModule)
