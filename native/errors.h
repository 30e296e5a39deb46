// The error codes of native calls, in one list: the same strings as ErrorCode in src/errors.ts
// (test/engine/native-guards.test.ts checks that each one is there). A code is an enum inside C++ and
// becomes its string only at the JavaScript boundary (MakeError, the request result, the exported
// `errorCodes` list), through ErrorCodeName.
//
// Thread-safety: plain values and a constant table; safe anywhere.
#pragma once

#include <cstddef>
#include <string>

namespace modelpool {

// X(enumerator, string): the one list.
#define MODELPOOL_ERROR_CODES(X)                         \
  X(InvalidArgument, "INVALID_ARGUMENT")                 \
  X(InvalidSchema, "INVALID_SCHEMA")                     \
  X(InvalidGguf, "INVALID_GGUF")                         \
  X(UnsupportedArchitecture, "UNSUPPORTED_ARCHITECTURE") \
  X(ContextTooLarge, "CONTEXT_TOO_LARGE")                \
  X(ContextOverflow, "CONTEXT_OVERFLOW")                 \
  X(InsufficientMemory, "INSUFFICIENT_MEMORY")           \
  X(LoadFailed, "LOAD_FAILED")                           \
  X(GenerationFailed, "GENERATION_FAILED")               \
  X(Aborted, "ABORTED")                                  \
  X(QueueFull, "QUEUE_FULL")                             \
  X(StateMismatch, "STATE_MISMATCH")                     \
  X(Disposed, "DISPOSED")

enum class ErrorCode {
  None,  // no error
#define MODELPOOL_ERROR_ENUM(name, text) name,
  MODELPOOL_ERROR_CODES(MODELPOOL_ERROR_ENUM)
#undef MODELPOOL_ERROR_ENUM
};

inline constexpr const char* kErrorCodeNames[] = {
    "",
#define MODELPOOL_ERROR_NAME(name, text) text,
    MODELPOOL_ERROR_CODES(MODELPOOL_ERROR_NAME)
#undef MODELPOOL_ERROR_NAME
};
inline constexpr size_t kErrorCodeCount = sizeof(kErrorCodeNames) / sizeof(kErrorCodeNames[0]) - 1;

inline const char* ErrorCodeName(ErrorCode code) { return kErrorCodeNames[static_cast<size_t>(code)]; }

// The result of a native call that failed: a stable code plus a message.
struct NativeError {
  ErrorCode code = ErrorCode::None;
  std::string message;
  bool ok() const { return code == ErrorCode::None; }
};

}  // namespace modelpool
