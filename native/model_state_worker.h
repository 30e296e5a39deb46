// model.savePromptCache(minTokens) -> Promise<[{ tokens, data, adapter?, adapterScale? }]> and
// model.restoreState({ tokens, data, adapter?, adapterScale? }) -> Promise<sequence>: the KV state of
// sequences, saved and restored off the JavaScript thread. The worker thread only waits: llama.cpp's
// state calls run on the model's scheduler thread between two decode steps (model_core_state.cpp).
//
// Thread-safety: both functions run on the JavaScript thread; the promises settle there.
#pragma once

#include <napi.h>

#include <memory>

#include "model_core.h"

namespace modelpool {

class Model;

// Each keeps `owner` (the Model whose core this is) alive until its promise settles.
Napi::Promise QueueStateSave(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, size_t min_tokens);
Napi::Promise QueueStateRestore(Napi::Env env, Model* owner, std::shared_ptr<ModelCore> core, ModelCore::SavedSequence saved);

}  // namespace modelpool
