#include "device_info.h"

#include <string>
#include <thread>

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

namespace modelpool {

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array gpus = Napi::Array::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  Napi::Object ram = Napi::Object::New(env);
  for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    size_t free = 0, total = 0;
    ggml_backend_dev_memory(dev, &free, &total);
    const auto type = ggml_backend_dev_type(dev);
    if (type == GGML_BACKEND_DEVICE_TYPE_CPU) {
      cpu.Set("model", ggml_backend_dev_description(dev));
      ram.Set("total", (double)total);
      ram.Set("free", (double)free);
    } else if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
      Napi::Object g = Napi::Object::New(env);
      g.Set("name", ggml_backend_dev_name(dev));
      g.Set("description", ggml_backend_dev_description(dev));
      g.Set("type", type == GGML_BACKEND_DEVICE_TYPE_GPU ? "gpu" : "igpu");
      g.Set("total", (double)total);
      g.Set("free", (double)free);
      gpus.Set(gpus.Length(), g);
    }
  }
  cpu.Set("cores", (double)std::thread::hardware_concurrency());
  Napi::Array features = Napi::Array::New(env);
  Napi::Array backends = Napi::Array::New(env);
  for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
    ggml_backend_reg_t reg = ggml_backend_reg_get(i);
    backends.Set(backends.Length(), ggml_backend_reg_name(reg));
    auto get_features = (ggml_backend_get_features_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
    if (get_features == nullptr || std::string(ggml_backend_reg_name(reg)) != "CPU") continue;
    for (ggml_backend_feature* f = get_features(reg); f != nullptr && f->name != nullptr; f++) {
      if (std::string(f->value) == "1") features.Set(features.Length(), f->name);
    }
  }
  cpu.Set("features", features);
  out.Set("cpu", cpu);
  out.Set("ram", ram);
  out.Set("gpus", gpus);
  out.Set("backends", backends);
  out.Set("systemInfo", llama_print_system_info());
  out.Set("supportsGpuOffload", llama_supports_gpu_offload());
  out.Set("supportsMmap", llama_supports_mmap());
  out.Set("supportsMlock", llama_supports_mlock());
  return out;
}

}  // namespace modelpool
