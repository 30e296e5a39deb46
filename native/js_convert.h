// Conversions between JavaScript values and the core's structs, done once on the JavaScript thread.
// Every field is required: src/engine/ resolves the defaults and passes them all (see NativeLoadParams in
// src/engine/native.ts), so the defaults live in one place.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "memory.h"
#include "model_core.h"

namespace modelpool {

// Reads a NativeLoadParams object; throws a TypeError naming `name`.field for a missing or wrong field.
LoadParams ReadLoadParams(const Napi::Value& value, const std::string& name);
Napi::Array MemoryToJs(Napi::Env env, const std::vector<MemoryEntry>& memory);

}  // namespace modelpool
