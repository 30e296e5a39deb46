// The checks every native entry point makes before it uses an argument, and the errors it throws.
//
// After better-sqlite3's REQUIRE_ARGUMENT_* macros: a wrong call from JavaScript (a wrong type, a missing
// argument, a number out of the range C++ can hold, an object of the wrong class) throws a
// TypeError with code INVALID_ARGUMENT and sharp's message shape, "Expected <what> for <name> but
// received <value>" (the shape of invalidArgument() in src/errors.ts). It never reaches llama.cpp and
// never crashes the process. src/engine/ validates user input first and reports the user's field names;
// these checks guard the boundary itself. A missing positional argument reads as undefined.
//
// Thread-safety: JavaScript thread only (they read JavaScript values).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "errors.h"

namespace modelpool {

// An Error with a stable `code` (ErrorCodeName(code)).
Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message);

// A TypeError with code INVALID_ARGUMENT: a call JavaScript should not have made.
Napi::TypeError MakeTypeError(Napi::Env env, const std::string& message);

// The TypeError of a wrong argument: "Expected <expected> for <name> but received <value>".
Napi::TypeError ArgumentError(Napi::Env env, const std::string& name, const std::string& expected,
                              const Napi::Value& received);

// The list of every code, exported as `errorCodes`.
Napi::Array ErrorCodesToJs(Napi::Env env);

// Each returns the value converted, or throws ArgumentError naming `name`.
std::string RequireString(const Napi::Value& value, const std::string& name);
std::string RequireNonEmptyString(const Napi::Value& value, const std::string& name);
bool RequireBoolean(const Napi::Value& value, const std::string& name);
// undefined reads as `absent`.
bool OptionalBoolean(const Napi::Value& value, const std::string& name, bool absent);
// A finite number in [min, max].
double RequireNumber(const Napi::Value& value, const std::string& name, double min, double max);
// A finite number.
double RequireFiniteNumber(const Napi::Value& value, const std::string& name);
// An integer in [min, max].
int64_t RequireInteger(const Napi::Value& value, const std::string& name, int64_t min, int64_t max);
Napi::Object RequireObject(const Napi::Value& value, const std::string& name);
Napi::Array RequireArray(const Napi::Value& value, const std::string& name);
Napi::Function RequireFunction(const Napi::Value& value, const std::string& name);
Napi::Int32Array RequireInt32Array(const Napi::Value& value, const std::string& name);

// The instance of T wrapped by `value`, or ArgumentError when value is not a T. T tags each instance in
// its constructor with T::kTypeTag; ObjectWrap's own Unwrap trusts any wrapped object, so a Slot passed
// where a Model is expected would otherwise be read as a Model. (A method's receiver needs no check:
// napi_define_class gives every method a V8 signature, so Model.prototype.info.call(slot) throws
// "TypeError: Illegal invocation" before any C++ runs.)
template <typename T>
T* RequireInstance(const Napi::Value& value, const std::string& name) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&T::kTypeTag)) {
    throw ArgumentError(value.Env(), name, std::string("a ") + T::kClassName, value);
  }
  return T::Unwrap(value.As<Napi::Object>());
}

}  // namespace modelpool
