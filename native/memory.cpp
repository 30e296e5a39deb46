#include "memory.h"

#include <algorithm>
#include <cstring>
#include <map>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "ggml-backend.h"
#include "../deps/llama.cpp/src/llama-ext.h"
// llama_model::tensors_by_name: the only way to see which tensors still live in a file mapping.
#include "../deps/llama.cpp/src/llama-model.h"

namespace modelpool {

namespace {

// The buffer type of a CPU buffer made over a file mapping (ggml_backend_cpu_buffer_from_ptr).
bool IsCpuMapping(ggml_backend_buffer_type_t buft) { return std::strcmp(ggml_backend_buft_name(buft), "CPU_Mapped") == 0; }

struct MappingUse {
  uint64_t used = 0;                                   // bytes of tensors read from the mapping
  std::vector<std::pair<uintptr_t, uintptr_t>> spans;  // their address ranges
};

std::map<ggml_backend_buffer_t, MappingUse> MappingUses(const llama_model* model) {
  std::map<ggml_backend_buffer_t, MappingUse> uses;
  for (const auto& [name, t] : model->tensors_by_name) {
    if (t == nullptr || t->buffer == nullptr || t->data == nullptr) continue;
    if (!IsCpuMapping(ggml_backend_buffer_get_type(t->buffer))) continue;
    MappingUse& u = uses[t->buffer];
    const size_t n = ggml_nbytes(t);
    u.used += n;
    u.spans.emplace_back(reinterpret_cast<uintptr_t>(t->data), reinterpret_cast<uintptr_t>(t->data) + n);
  }
  return uses;
}

}  // namespace

std::vector<MemoryEntry> MeasureMemory(llama_context* ctx, const llama_model* model) {
  // Mapped bytes really used, per mapping buffer type (a dry run has no mappings: nothing to split).
  std::map<ggml_backend_buffer_type_t, uint64_t> mapped_used;
  for (const auto& [buf, use] : MappingUses(model)) mapped_used[ggml_backend_buffer_get_type(buf)] += use.used;

  std::map<std::string, MemoryEntry> by_device;
  for (const auto& [buft, mb] : llama_get_memory_breakdown(ctx)) {
    std::string device = "CPU";
    if (!ggml_backend_buft_is_host(buft)) {
      ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
      if (dev != nullptr) device = ggml_backend_dev_name(dev);
    }
    MemoryEntry& e = by_device[device];
    e.device = device;
    uint64_t weights = mb.model;
    auto used = mapped_used.find(buft);
    if (used != mapped_used.end() && used->second < weights) {
      e.reclaimable += weights - used->second;
      weights = used->second;
    }
    e.weights += weights;
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

uint64_t ReleaseColdMappedPages(const llama_model* model) {
  uint64_t advised = 0;
#if defined(__unix__) || defined(__APPLE__)
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (auto& [buf, use] : MappingUses(model)) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(ggml_backend_buffer_get_base(buf));
    const uintptr_t end = base + ggml_backend_buffer_get_size(buf);
    std::sort(use.spans.begin(), use.spans.end());
    uintptr_t cursor = base;
    auto drop = [&](uintptr_t from, uintptr_t to) {
      // Only whole pages strictly inside the gap: a page shared with a used tensor stays.
      const uintptr_t a = (from + page - 1) / page * page, b = to / page * page;
      if (b > a && madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED) == 0) advised += b - a;
    };
    for (const auto& [from, to] : use.spans) {
      if (from > cursor) drop(cursor, from);
      cursor = std::max(cursor, to);
    }
    if (end > cursor) drop(cursor, end);
  }
#else
  (void)model;
#endif
  return advised;
}

}  // namespace modelpool
