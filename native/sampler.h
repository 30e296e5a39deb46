// The sampler chain of one generation request: grammar (from a JSON schema or GBNF), penalties, then
// greedy or top-k / top-p / min-p / temperature / seeded distribution.
//
// Thread-safety: BuildSampler runs on the JavaScript thread; the chain it returns is then used only
// by the scheduler thread.
#pragma once

#include <napi.h>

#include "llama.h"
#include "model_core.h"

namespace modelpool {

// Builds the chain from the request options; throws INVALID_SCHEMA / INVALID_ARGUMENT for a schema or
// grammar llama.cpp cannot use. The caller owns the result.
llama_sampler* BuildSampler(Napi::Env env, ModelCore& core, const Napi::Object& o);

}  // namespace modelpool
