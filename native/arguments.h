// Errors thrown to JavaScript by native entry points: an Error with a stable `code`.
#pragma once

#include <napi.h>

#include <string>

#include "errors.h"

namespace modelpool {

Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message);

// The list of every code, exported as `errorCodes`.
Napi::Array ErrorCodesToJs(Napi::Env env);

}  // namespace modelpool
