// Memory of a loaded model, by device and kind, from llama.cpp's own per-buffer accounting (the
// source common/fit uses). The same reading on a no_alloc dry-run load is the estimate.
//
// What a model needs resident (the figure budgets use): its anonymous buffers (weights copied or
// repacked out of the file, KV cache, compute) plus the file-mapped bytes of the tensors that are
// read from the mapping at run time. What is reclaimable: the rest of a file mapping — the original
// bytes of tensors that were repacked into their own buffer (CPU repack, e.g. Q4_0 on AVX2) or
// offloaded to a GPU, read once during the load. llama.cpp's breakdown counts a CPU mapping whole
// (it spans the first to the last mapped tensor of the file), so with mmap on it counts a repacked
// tensor twice; MeasureMemory counts it once and reports the mapping's cold part as reclaimable.
//
// Thread-safety: MeasureMemory and ReleaseColdMappedPages read the model and context; call them on
// the thread that owns the context (the loading worker, before the core is published). MemoryTotal
// is pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llama.h"

namespace modelpool {

struct MemoryEntry {
  std::string device;
  uint64_t weights = 0;      // resident weights
  uint64_t kv = 0;
  uint64_t compute = 0;
  uint64_t reclaimable = 0;  // mapped file bytes no tensor reads after the load
};

// Reads llama.cpp's memory breakdown of a context, summed by device name ("CPU" for host buffers),
// with file mappings counted by the tensors that use them.
std::vector<MemoryEntry> MeasureMemory(llama_context* ctx, const llama_model* model);

// Resident bytes of every kind on every device (reclaimable bytes excluded).
uint64_t MemoryTotal(const std::vector<MemoryEntry>& memory);

// Tells the operating system that the pages of the model's CPU file mappings that no tensor uses
// any more (originals of repacked or offloaded tensors) may be dropped from this process, so the
// process's resident memory matches the resident figure. The pages stay valid (re-read from the
// file if ever touched). Returns the bytes advised. Linux and macOS (madvise); elsewhere a no-op
// (Windows would need OfferVirtualMemory/DiscardVirtualMemory on the view; not done).
uint64_t ReleaseColdMappedPages(const llama_model* model);

}  // namespace modelpool
