// Per-environment state of the addon (no statics: the addon may load in worker threads too), and
// the environment's teardown.
//
// Thread-safety: everything here runs on the JavaScript thread of its environment, except that
// `cores` is guarded by `mutex` and `env_closing` is read by load workers.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "model_core.h"

namespace modelpool {

struct AddonData {
  Napi::FunctionReference model_ctor;
  // The core the Model being constructed takes over: set by ModelLoadWorker around model_ctor.New(),
  // so JavaScript cannot construct a Model of its own.
  std::shared_ptr<ModelCore> adopting;
  std::mutex mutex;
  std::set<std::shared_ptr<ModelCore>> cores;  // live cores, closed at environment teardown
  std::shared_ptr<std::atomic<bool>> env_closing = std::make_shared<std::atomic<bool>>(false);
};

// Environment teardown (process exit or worker end): aborts every request, stops and joins every
// scheduler thread before the addon's code can go away. Registered as an environment cleanup hook.
void Cleanup(void* arg);

// Environment cleanup hooks run in reverse order of registration, and every thread-safe function
// registers one that frees it. Cleanup must run before those (it joins the scheduler threads that
// still call into them), so it is moved to the end of the list after each thread-safe function is made.
void KeepCleanupFirst(Napi::Env env);

}  // namespace modelpool
