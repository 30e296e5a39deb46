#include "js_convert.h"

namespace modelpool {

LoadParams ReadLoadParams(const Napi::Object& o) {
  LoadParams p;
  p.path = o.Get("path").As<Napi::String>().Utf8Value();
  auto u32 = [&](const char* key, uint32_t& out) {
    if (o.Has(key) && o.Get(key).IsNumber()) out = o.Get(key).As<Napi::Number>().Uint32Value();
  };
  auto i32 = [&](const char* key, int32_t& out) {
    if (o.Has(key) && o.Get(key).IsNumber()) out = o.Get(key).As<Napi::Number>().Int32Value();
  };
  auto flag = [&](const char* key, bool& out) {
    if (o.Has(key) && o.Get(key).IsBoolean()) out = o.Get(key).As<Napi::Boolean>().Value();
  };
  u32("contextSize", p.context_size);
  u32("parallel", p.parallel);
  i32("threads", p.threads);
  i32("batchThreads", p.batch_threads);
  i32("gpuLayers", p.gpu_layers);
  u32("batchSize", p.batch_size);
  flag("mmap", p.mmap);
  flag("mlock", p.mlock);
  flag("embeddings", p.embeddings);
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
    out.Set((uint32_t)i, e);
  }
  return out;
}

}  // namespace modelpool
