// Errors of native calls: a stable code (the same strings as ErrorCode in src/errors.ts) plus a message.
#pragma once

#include <string>

namespace modelpool {

// Results of a native call that failed: a stable code plus a message.
struct NativeError {
  std::string code;
  std::string message;
  bool ok() const { return code.empty(); }
};

}  // namespace modelpool
