#include "memory.h"

#include <map>

#include "ggml-backend.h"
#include "../deps/llama.cpp/src/llama-ext.h"

namespace modelpool {

std::vector<MemoryEntry> MeasureMemory(llama_context* ctx) {
  std::map<std::string, MemoryEntry> by_device;
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx)) {
    std::string device = "CPU";
    if (!ggml_backend_buft_is_host(buft)) {
      ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
      if (dev != nullptr) device = ggml_backend_dev_name(dev);
    }
    MemoryEntry& e = by_device[device];
    e.device = device;
    e.weights += mb.model;
    e.kv += mb.context;
    e.compute += mb.compute;
  }
  std::vector<MemoryEntry> out;
  for (auto& [name, e] : by_device) out.push_back(e);
  return out;
}

uint64_t MemoryTotal(const std::vector<MemoryEntry>& memory) {
  uint64_t total = 0;
  for (const auto& e : memory) total += e.weights + e.kv + e.compute;
  return total;
}

}  // namespace modelpool
