#include "addon_data.h"

namespace modelpool {

void KeepCleanupFirst(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) return;
  napi_remove_env_cleanup_hook(env, Cleanup, data);
  napi_add_env_cleanup_hook(env, Cleanup, data);
}

void Cleanup(void* arg) {
  auto* data = static_cast<AddonData*>(arg);
  data->env_closing->store(true);
  std::set<std::shared_ptr<ModelCore>> cores;
  {
    std::lock_guard<std::mutex> lock(data->mutex);
    cores.swap(data->cores);
  }
  for (auto& core : cores) core->Close(true, nullptr);
  for (auto& core : cores) core->Join();
}

}  // namespace modelpool
