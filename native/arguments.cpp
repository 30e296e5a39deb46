#include "arguments.h"

namespace modelpool {

Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrorCodeName(code)));
  return error;
}

Napi::Array ErrorCodesToJs(Napi::Env env) {
  Napi::Array codes = Napi::Array::New(env, kErrorCodeCount);
  for (size_t i = 0; i < kErrorCodeCount; i++) codes.Set((uint32_t)i, kErrorCodeNames[i + 1]);
  return codes;
}

}  // namespace modelpool
