// ModelCore: one loaded llama.cpp model, its context and the scheduler thread that owns the context.
//
// Threading (after llama.cpp tools/server): the scheduler thread is the only thread that touches the
// llama_context. Other threads post requests into `pending_` under `mutex_`; results leave through each
// request's sink (a thread-safe function on the JavaScript side). Concurrent requests run as separate
// sequences of the one context and are batched into one llama_decode per step (continuous batching);
// a request can join while others generate.
//
// Thread-safety: every public member function is safe to call from any thread, except the constructor and
// Load(), which run on a single worker thread before the core is published.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "adapter.h"
#include "errors.h"
#include "llama.h"
#include "memory.h"
#include "request.h"

namespace modelpool {

// Every field but no_alloc comes from JavaScript (ReadLoadParams), which passes them all: the defaults
// are src/engine/'s, and the initializers here only keep the struct well-formed.
struct LoadParams {
  std::string path;
  uint32_t context_size = 0;  // tokens per sequence; 0 = min(train, 4096)
  uint32_t parallel = 1;
  int32_t threads = 1;
  int32_t batch_threads = 1;
  int32_t gpu_layers = 0;  // -1 = all
  uint32_t batch_size = 1;
  bool mmap = false;
  bool mlock = false;
  bool embeddings = false;
  bool no_alloc = false;  // dry run: measure memory, allocate nothing
};

class ModelCore {
 public:
  ModelCore() = default;
  ~ModelCore();
  ModelCore(const ModelCore&) = delete;
  ModelCore& operator=(const ModelCore&) = delete;

  // Loads model + context (worker thread). `progress` returns false to cancel.
  NativeError Load(const LoadParams& params, const std::function<bool(float)>& progress);
  // Starts the scheduler thread. After this the core may be shared.
  void Start();

  // Measured memory of model + context, by device.
  std::vector<MemoryEntry> Memory() const;

  // Queues a request. Returns false (and leaves the request untouched) when the core is closing.
  // With notify = false the scheduler is not woken until Wake(): requests made in one turn of the
  // JavaScript event loop then start together, batched, instead of the first one starting alone.
  bool Submit(const std::shared_ptr<Request>& request, bool notify = true);
  void Wake();
  // Stops accepting requests; optionally aborts the queued and running ones. The scheduler thread
  // frees the context and model once all requests have finished, then `on_closed` runs on it.
  void Close(bool abort_requests, std::function<void()> on_closed);
  // Joins the scheduler thread (never from the scheduler thread itself).
  void Join();

  // Runs `task` on the scheduler thread between two decode steps and waits for it; for work that
  // touches the context or the model's adapter set (state save/restore, adapters). Call it from a
  // worker thread, never from the scheduler or the JavaScript thread. Returns false, without running
  // the task, when the core is closing.
  bool RunOnScheduler(std::function<void()> task);

  void SetThreads(int32_t threads, int32_t batch_threads);
  int32_t Threads() const { return threads_.load(); }
  size_t ActiveRequests() const { return active_count_.load(); }
  // llama_decode calls made for generation so far (one per scheduler step).
  uint64_t DecodeSteps() const { return decode_steps_.load(); }
  bool Closing() const { return closing_.load(); }

  // Immutable after Load(): safe from any thread.
  llama_model* model() const { return model_; }
  const llama_vocab* vocab() const { return vocab_; }
  uint32_t context_size() const { return n_ctx_seq_; }
  uint32_t parallel() const { return n_seq_max_; }
  bool embeddings() const { return embeddings_; }
  const std::string& path() const { return path_; }
  double load_ms() const { return load_ms_; }

  // Marks a queued or running request aborted and wakes the scheduler.
  void Abort(const std::shared_ptr<Request>& request);

  // KV state of sequences (model_core_state.cpp), from a worker thread (they wait for the scheduler).
  // SaveCachedSequences snapshots every free sequence that caches at least `min_tokens` tokens;
  // RestoreSequence loads one into a free sequence as its prompt cache (STATE_MISMATCH when
  // llama.cpp refuses the data, QUEUE_FULL when no sequence is free).
  struct SavedSequence {
    std::vector<llama_token> tokens;
    std::vector<uint8_t> data;
    std::string adapter;  // name of the adapter the KV was computed with; empty: none
    float adapter_scale = 0;
  };
  NativeError SaveCachedSequences(size_t min_tokens, std::vector<SavedSequence>& out);
  NativeError RestoreSequence(const SavedSequence& saved, int32_t& seq_out);

  // LoRA adapters (model_core_adapters.cpp). AddAdapter loads a GGUF adapter for this model (worker
  // thread; refuses one made for another base model); FindAdapter/RemoveAdapter/AdapterNames are safe
  // from any thread. A removed adapter stays alive while a request or the context still uses it.
  NativeError AddAdapter(const std::string& name, const std::string& path);
  std::shared_ptr<Adapter> FindAdapter(const std::string& name) const;
  bool RemoveAdapter(const std::string& name);
  std::vector<std::string> AdapterNames() const;

 private:
  void Run();
  void Admit(std::vector<std::shared_ptr<Request>>& active, std::vector<int32_t>& free_seqs);
  void Step(std::vector<std::shared_ptr<Request>>& active, std::vector<int32_t>& free_seqs);
  void RunEmbed(const std::shared_ptr<Request>& request);
  bool AcceptToken(Request& r, llama_token token, double now);
  void Finish(Request& r, FinishReason reason, std::vector<int32_t>& free_seqs);
  void FreeLlama();
  // Gives `r` the free sequence whose cached tokens share the longest prefix with its prompt (same
  // adapter), drops the rest of that sequence's cache and skips the shared part (scheduler).
  void TakeSequence(Request& r, std::vector<int32_t>& free_seqs);
  // Log probability of `token` (and the top n alternatives) from the logits of batch row `row`.
  TokenProb ProbsAt(int32_t row, llama_token token, int32_t n_top);
  // Sets the request's adapter (or none) on the context when it differs from the one set (scheduler).
  bool ApplyAdapter(const Request& r);
  // Drops adapters removed since the last step, on the scheduler thread (scheduler).
  void ReleaseRetiredAdapters();

  std::string path_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  llama_batch batch_{};
  bool batch_ready_ = false;
  uint32_t n_ctx_seq_ = 0;
  uint32_t n_seq_max_ = 1;
  uint32_t n_batch_ = 512;
  bool embeddings_ = false;
  double load_ms_ = 0;
  std::vector<MemoryEntry> memory_;
  std::vector<int32_t> tokens_per_seq_;  // scratch for Step()
  std::vector<float> logprob_scratch_;   // scratch for ProbsAt()

  // The prompt cache (scheduler thread): per sequence, the tokens whose KV it holds and the adapter
  // they were computed with, kept after its request finishes for the next request to reuse.
  struct SeqCache {
    std::vector<llama_token> tokens;
    uint64_t adapter_id = 0;
    float adapter_scale = 0;
    uint64_t used = 0;  // step of last use: the least recently used sequence is reused first
  };
  std::vector<SeqCache> seq_cache_;
  std::vector<int32_t> free_seqs_;  // free sequence ids, descending (scheduler thread)
  uint64_t step_count_ = 0;
  // The state of a sequence's KV (scheduler thread).
  std::vector<uint8_t> SequenceState(int32_t seq);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> pending_;
  struct Task {
    std::function<void()> run;
    std::promise<bool> done;
  };
  std::deque<Task> tasks_;  // guarded by mutex_
  void RunTasks();
  bool stop_ = false;
  bool wake_ = false;
  std::atomic<bool> closing_{false};
  std::atomic<bool> abort_all_{false};
  std::function<void()> on_closed_;
  std::atomic<int32_t> threads_{1};
  std::atomic<int32_t> batch_threads_{1};
  std::atomic<size_t> active_count_{0};
  std::atomic<uint64_t> decode_steps_{0};
  std::thread thread_;

  mutable std::mutex adapters_mutex_;
  std::map<std::string, std::shared_ptr<Adapter>> adapters_;
  std::vector<std::shared_ptr<Adapter>> retired_adapters_;  // guarded by adapters_mutex_
  std::shared_ptr<Adapter> ctx_adapter_;  // set on the context (scheduler thread)
  float ctx_adapter_scale_ = 0;
};

double NowMs();

}  // namespace modelpool
