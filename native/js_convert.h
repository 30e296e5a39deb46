// Conversions between JavaScript values and the core's structs, done once on the JavaScript thread.
#pragma once

#include <napi.h>

#include <vector>

#include "memory.h"
#include "model_core.h"

namespace modelpool {

LoadParams ReadLoadParams(const Napi::Object& o);
Napi::Array MemoryToJs(Napi::Env env, const std::vector<MemoryEntry>& memory);

}  // namespace modelpool
