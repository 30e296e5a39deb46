// model.loadAdapter(name, path) -> Promise<{ name, path, loadMs }>: ModelAdapterWorker loads a LoRA
// adapter beside a loaded model off the JavaScript thread. Its worker thread only waits: the llama.cpp
// load runs on the model's scheduler thread between two decode steps (ModelCore::AddAdapter).
//
// Thread-safety: QueueAdapterLoad runs on the JavaScript thread; the promise settles there.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "model_core.h"

namespace modelpool {

class Model;

// Queues the load; `owner` (the Model whose core this is) is kept alive until the promise settles.
Napi::Promise QueueAdapterLoad(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, std::string name,
                               std::string path);

}  // namespace modelpool
