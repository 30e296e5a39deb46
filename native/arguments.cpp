#include "arguments.h"

#include <cmath>
#include <cstdio>

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

// Short, safe rendering of a received value, as describeValue() in src/errors.ts renders it.
static std::string Describe(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return std::string("boolean ") + (value.As<Napi::Boolean>().Value() ? "true" : "false");
    case napi_number: return "number " + value.ToString().Utf8Value();
    case napi_bigint: return "bigint " + value.ToString().Utf8Value();
    case napi_string: {
      std::string text = value.As<Napi::String>().Utf8Value();
      if (text.size() > 80) text = text.substr(0, 77) + "...";
      return "string \"" + text + "\"";
    }
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_object: break;
  }
  if (value.IsArray()) return "array of length " + std::to_string(value.As<Napi::Array>().Length());
  if (value.IsTypedArray()) return "typed array";
  return "object";
}

Napi::TypeError MakeTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, ErrorCodeName(ErrorCode::InvalidArgument)));
  return error;
}

Napi::TypeError ArgumentError(Napi::Env env, const std::string& name, const std::string& expected,
                              const Napi::Value& received) {
  return MakeTypeError(env, "Expected " + expected + " for " + name + " but received " + Describe(received));
}

std::string RequireString(const Napi::Value& value, const std::string& name) {
  if (!value.IsString()) throw ArgumentError(value.Env(), name, "a string", value);
  return value.As<Napi::String>().Utf8Value();
}

std::string RequireNonEmptyString(const Napi::Value& value, const std::string& name) {
  if (!value.IsString() || value.As<Napi::String>().Utf8Value().empty()) {
    throw ArgumentError(value.Env(), name, "a non-empty string", value);
  }
  return value.As<Napi::String>().Utf8Value();
}

bool RequireBoolean(const Napi::Value& value, const std::string& name) {
  if (!value.IsBoolean()) throw ArgumentError(value.Env(), name, "a boolean", value);
  return value.As<Napi::Boolean>().Value();
}

bool OptionalBoolean(const Napi::Value& value, const std::string& name, bool absent) {
  return value.IsUndefined() ? absent : RequireBoolean(value, name);
}

static std::string FormatBound(double n) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%g", n);
  return buf;
}

double RequireNumber(const Napi::Value& value, const std::string& name, double min, double max) {
  const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(n >= min && n <= max)) {  // NaN fails both
    throw ArgumentError(value.Env(), name, "a number between " + FormatBound(min) + " and " + FormatBound(max), value);
  }
  return n;
}

double RequireFiniteNumber(const Napi::Value& value, const std::string& name) {
  if (!value.IsNumber() || !std::isfinite(value.As<Napi::Number>().DoubleValue())) {
    throw ArgumentError(value.Env(), name, "a finite number", value);
  }
  return value.As<Napi::Number>().DoubleValue();
}

int64_t RequireInteger(const Napi::Value& value, const std::string& name, int64_t min, int64_t max) {
  const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(n >= (double)min && n <= (double)max && std::floor(n) == n)) {
    throw ArgumentError(value.Env(), name, "an integer between " + std::to_string(min) + " and " + std::to_string(max),
                        value);
  }
  return (int64_t)n;
}

Napi::Object RequireObject(const Napi::Value& value, const std::string& name) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction()) throw ArgumentError(value.Env(), name, "an object", value);
  return value.As<Napi::Object>();
}

Napi::Array RequireArray(const Napi::Value& value, const std::string& name) {
  if (!value.IsArray()) throw ArgumentError(value.Env(), name, "an array", value);
  return value.As<Napi::Array>();
}

Napi::Function RequireFunction(const Napi::Value& value, const std::string& name) {
  if (!value.IsFunction()) throw ArgumentError(value.Env(), name, "a function", value);
  return value.As<Napi::Function>();
}

Napi::Int32Array RequireInt32Array(const Napi::Value& value, const std::string& name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw ArgumentError(value.Env(), name, "an Int32Array", value);
  }
  return value.As<Napi::Int32Array>();
}

}  // namespace modelpool
