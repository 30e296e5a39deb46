// loadModel(params, onProgress?) -> { promise, abort() }: ModelLoadWorker loads a model and its context
// on a libuv worker thread, starts its scheduler thread and resolves with a Model.
#pragma once

#include <napi.h>

namespace modelpool {

Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace modelpool
