// Errors thrown to JavaScript by native entry points: an Error with a stable `code`.
#pragma once

#include <napi.h>

#include <string>

namespace modelpool {

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

}  // namespace modelpool
