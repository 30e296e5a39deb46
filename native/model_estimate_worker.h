// estimateMemory(params) -> Promise<{ devices, contextSize }>: ModelEstimateWorker sizes a load on a
// libuv worker thread without allocating it (llama.cpp's no_alloc dry run).
#pragma once

#include <napi.h>

namespace modelpool {

Napi::Value EstimateMemory(const Napi::CallbackInfo& info);

}  // namespace modelpool
