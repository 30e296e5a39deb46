// deviceInfo() -> { cpu, ram, gpus, backends, systemInfo, supports* }: the devices as ggml's backend
// registry sees them. Runs on the JavaScript thread (it only reads the registry).
#pragma once

#include <napi.h>

namespace modelpool {

Napi::Value DeviceInfo(const Napi::CallbackInfo& info);

}  // namespace modelpool
