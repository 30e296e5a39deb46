// quantize(input, output, ftype, threads) -> Promise<void>: ModelQuantizeWorker writes a quantized copy
// of a GGUF on a libuv worker thread.
#pragma once

#include <napi.h>

namespace modelpool {

Napi::Value Quantize(const Napi::CallbackInfo& info);

}  // namespace modelpool
