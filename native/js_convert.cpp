#include "js_convert.h"

#include <cstdint>

#include "arguments.h"

namespace modelpool {

LoadParams ReadLoadParams(const Napi::Value& value, const std::string& name) {
  Napi::Object o = RequireObject(value, name);
  auto integer = [&](const char* key, int64_t min, int64_t max) {
    return RequireInteger(o.Get(key), name + "." + key, min, max);
  };
  auto flag = [&](const char* key) { return RequireBoolean(o.Get(key), name + "." + key); };
  LoadParams p;
  p.path = RequireNonEmptyString(o.Get("path"), name + ".path");
  // Ranges: what the core can hold (the context is contextSize × parallel tokens, in 32 bits; llama.cpp
  // takes at most 256 sequences). 0 contextSize = the model's trained context, up to 4096.
  p.context_size = (uint32_t)integer("contextSize", 0, 1 << 24);
  p.parallel = (uint32_t)integer("parallel", 1, 256);
  p.threads = (int32_t)integer("threads", 1, 1024);
  p.batch_threads = (int32_t)integer("batchThreads", 1, 1024);
  p.gpu_layers = (int32_t)integer("gpuLayers", -1, INT32_MAX);  // -1 = all
  p.batch_size = (uint32_t)integer("batchSize", 1, 1 << 20);
  p.mmap = flag("mmap");
  p.mlock = flag("mlock");
  p.embeddings = flag("embeddings");
  return p;
}

Napi::Array MemoryToJs(Napi::Env env, const std::vector<MemoryEntry>& memory) {
  Napi::Array out = Napi::Array::New(env, memory.size());
  for (size_t i = 0; i < memory.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("device", memory[i].device);
    e.Set("weights", (double)memory[i].weights);
    e.Set("kvCache", (double)memory[i].kv);
    e.Set("compute", (double)memory[i].compute);
    e.Set("reclaimable", (double)memory[i].reclaimable);
    out.Set((uint32_t)i, e);
  }
  return out;
}

}  // namespace modelpool
