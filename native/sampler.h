// The sampler chain of one generation request: grammar (from a JSON schema or GBNF), penalties, then
// greedy or top-k / top-p / min-p / temperature / seeded distribution.
//
// Defaults: none here. The TypeScript engine resolves every option's default in one place (generateParams)
// and passes every field; ReadSamplerParams requires them all, so a field it forgot is a TypeError, not a
// second, silent default.
//
// Thread-safety: ReadSamplerParams and BuildSampler run on the JavaScript thread; the chain BuildSampler
// returns is then used only by the scheduler thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "errors.h"
#include "llama.h"

namespace modelpool {

struct SamplerParams {
  double temperature = 0;  // <= 0: greedy
  int32_t top_k = 0;       // 0: off
  double top_p = 1;        // 1: off
  double min_p = 0;        // 0: off
  double repeat_penalty = 1;
  int32_t repeat_last_n = 0;
  double frequency_penalty = 0;
  double presence_penalty = 0;
  std::optional<uint32_t> seed;            // none: a random seed
  std::optional<std::string> json_schema;  // JSON text; wins over grammar
  std::optional<std::string> grammar;      // GBNF
};

// Reads the sampler fields of a NativeGenerateParams object; a TypeError names `name`.field.
SamplerParams ReadSamplerParams(const Napi::Object& options, const std::string& name);

// Builds the chain (the caller owns it), or returns nullptr and sets `error` (INVALID_SCHEMA,
// INVALID_ARGUMENT) for a schema or grammar llama.cpp cannot use.
llama_sampler* BuildSampler(const llama_vocab* vocab, const SamplerParams& params, NativeError& error);

}  // namespace modelpool
