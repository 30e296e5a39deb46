// A LoRA adapter loaded beside a base model (llama_adapter_lora). A ModelCore keeps its adapters by
// name; each request that uses one holds a shared_ptr to it, and so does the scheduler while the
// adapter is set on the context, so removing an adapter never frees one a request still needs.
//
// Thread-safety: an Adapter is immutable once loaded. Its destructor frees the llama.cpp adapter, so
// the last reference must be dropped on the scheduler thread or after the scheduler has stopped
// (ModelCore retires removed adapters to its scheduler thread; see model_core_adapters.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "llama.h"

namespace modelpool {

struct Adapter {
  std::string name;
  std::string path;
  llama_adapter_lora* lora = nullptr;  // owned
  double load_ms = 0;
  uint64_t id = 0;  // unique per process: a prompt cache entry made with this adapter names it

  Adapter() = default;
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;
  ~Adapter();
};

}  // namespace modelpool
