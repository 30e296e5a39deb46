// Memory of a loaded model, by device and kind, from llama.cpp's own per-buffer accounting (the
// source common/fit uses). The same reading on a no_alloc dry-run load is the estimate.
//
// Thread-safety: MeasureMemory reads the context; call it on the thread that owns the context
// (the loading worker, before the core is published). MemoryTotal is pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llama.h"

namespace modelpool {

struct MemoryEntry {
  std::string device;
  uint64_t weights = 0;
  uint64_t kv = 0;
  uint64_t compute = 0;
};

// Reads llama.cpp's memory breakdown of a context, summed by device name ("CPU" for host buffers).
std::vector<MemoryEntry> MeasureMemory(llama_context* ctx);

// Bytes of every kind on every device.
uint64_t MemoryTotal(const std::vector<MemoryEntry>& memory);

}  // namespace modelpool
