// LoRA adapters of a ModelCore: loaded beside the base model, chosen per request. llama.cpp sets
// adapters per context, not per sequence, so the scheduler runs requests of one adapter choice per
// decode step (see Step()) and switches the context's adapter between steps.
#include <atomic>

#include "log.h"
#include "model_core.h"

namespace modelpool {

static std::atomic<uint64_t> next_adapter_id{1};

NativeError ModelCore::AddAdapter(const std::string& name, const std::string& path) {
  NativeError error;
  // llama_adapter_lora_init adds the adapter to the model's set, which a decode reads (graph size), and
  // llama_adapter_lora_free removes it: both run on the scheduler thread, between steps. The adapter
  // joins the map there too, so a Close() queued behind this task frees it (FreeLlama) before the
  // model, and this worker thread never holds the last reference to it.
  const bool ran = RunOnScheduler([&] {
    auto adapter = std::make_shared<Adapter>();
    adapter->name = name;
    adapter->path = path;
    adapter->id = next_adapter_id++;
    {
      std::lock_guard<std::mutex> lock(adapters_mutex_);
      // A name is never rebound: a request that looked it up keeps meaning the adapter it found.
      if (adapters_.count(name) != 0) {
        error = {ErrorCode::InvalidArgument, "Expected a name no adapter of this model has for name but received \"" + name + "\""};
        return;
      }
    }
    LogCapture capture;
    const double t0 = NowMs();
    adapter->lora = llama_adapter_lora_init(model_, path.c_str());
    adapter->load_ms = NowMs() - t0;
    if (adapter->lora == nullptr) {
      // src/engine/adapters.ts validates the file first, so this is rare (out of memory, a file changed since).
      const std::string log = capture.Text();
      error = {ErrorCode::LoadFailed, "llama.cpp could not load the LoRA adapter " + path + (log.empty() ? "" : ": " + log)};
      return;
    }
    std::lock_guard<std::mutex> lock(adapters_mutex_);
    adapters_.emplace(name, std::move(adapter));
  });
  if (!ran) return {ErrorCode::Disposed, "the model has been disposed"};
  return error;
}

std::shared_ptr<Adapter> ModelCore::FindAdapter(const std::string& name) const {
  std::lock_guard<std::mutex> lock(adapters_mutex_);
  auto it = adapters_.find(name);
  return it == adapters_.end() ? nullptr : it->second;
}

bool ModelCore::RemoveAdapter(const std::string& name) {
  std::lock_guard<std::mutex> lock(adapters_mutex_);
  auto it = adapters_.find(name);
  if (it == adapters_.end()) return false;
  retired_adapters_.push_back(std::move(it->second));
  adapters_.erase(it);
  return true;
}

std::vector<std::string> ModelCore::AdapterNames() const {
  std::lock_guard<std::mutex> lock(adapters_mutex_);
  std::vector<std::string> names;
  for (const auto& entry : adapters_) names.push_back(entry.first);
  return names;
}

bool ModelCore::ApplyAdapter(const Request& r) {
  const float scale = r.adapter ? r.adapter_scale : 0.0f;
  if (r.adapter == ctx_adapter_ && scale == ctx_adapter_scale_) return true;
  int32_t rc;
  if (r.adapter) {
    llama_adapter_lora* lora = r.adapter->lora;
    float s = scale;
    rc = llama_set_adapters_lora(ctx_, &lora, 1, &s);
  } else {
    rc = llama_set_adapters_lora(ctx_, nullptr, 0, nullptr);
  }
  if (rc != 0) return false;
  ctx_adapter_ = r.adapter;
  ctx_adapter_scale_ = scale;
  return true;
}

void ModelCore::ReleaseRetiredAdapters() {
  std::vector<std::shared_ptr<Adapter>> retired;
  {
    std::lock_guard<std::mutex> lock(adapters_mutex_);
    if (retired_adapters_.empty()) return;
    retired.swap(retired_adapters_);
  }
  // An adapter still set on the context or held by a request lives on in that reference.
  retired.clear();
}

}  // namespace modelpool
