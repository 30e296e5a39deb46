#include "model_core.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "log.h"

namespace modelpool {

double NowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

static bool AbortDecode(void* data) { return static_cast<std::atomic<bool>*>(data)->load(); }

NativeError ModelCore::Load(const LoadParams& p, const std::function<bool(float)>& progress) {
  const double t0 = NowMs();
  path_ = p.path;
  LogCapture capture;

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = p.gpu_layers;
  mp.load_mode = p.no_alloc ? LLAMA_LOAD_MODE_NONE
                            : (p.mmap ? (p.mlock ? LLAMA_LOAD_MODE_MMAP_MLOCK : LLAMA_LOAD_MODE_MMAP)
                                      : (p.mlock ? LLAMA_LOAD_MODE_MLOCK : LLAMA_LOAD_MODE_NONE));
  mp.no_alloc = p.no_alloc;
  struct ProgressData {
    const std::function<bool(float)>* fn;
    bool cancelled = false;
  } pd{&progress};
  if (progress) {
    mp.progress_callback = [](float value, void* data) -> bool {
      auto* d = static_cast<ProgressData*>(data);
      if (!(*d->fn)(value)) {
        d->cancelled = true;
        return false;
      }
      return true;
    };
    mp.progress_callback_user_data = &pd;
  }

  model_ = llama_model_load_from_file(p.path.c_str(), mp);
  if (model_ == nullptr) {
    if (pd.cancelled) return {ErrorCode::Aborted, "model load was aborted"};
    std::string log = capture.Text();
    ErrorCode code = ErrorCode::LoadFailed;
    if (log.find("unknown model architecture") != std::string::npos) code = ErrorCode::UnsupportedArchitecture;
    else if (log.find("failed to allocate") != std::string::npos || log.find("out of memory") != std::string::npos)
      code = ErrorCode::InsufficientMemory;
    else if (log.find("gguf") != std::string::npos || log.find("GGUF") != std::string::npos) code = ErrorCode::InvalidGguf;
    return {code, "llama.cpp could not load " + p.path + (log.empty() ? "" : ": " + log)};
  }
  vocab_ = llama_model_get_vocab(model_);

  const uint32_t n_train = (uint32_t)std::max(0, llama_model_n_ctx_train(model_));
  uint32_t ctx_seq = p.context_size ? p.context_size : std::min<uint32_t>(n_train ? n_train : 4096, 4096);
  if (n_train > 0 && ctx_seq > n_train) {
    FreeLlama();
    return {ErrorCode::ContextTooLarge, "contextSize " + std::to_string(ctx_seq) + " exceeds the model's trained context of " +
                                     std::to_string(n_train) + " tokens"};
  }
  n_seq_max_ = std::max<uint32_t>(1, p.parallel);
  embeddings_ = p.embeddings;

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = ctx_seq * n_seq_max_;
  cp.n_seq_max = n_seq_max_;
  cp.kv_unified = false;  // each sequence gets its own contextSize: no sequence can starve another
  cp.n_batch = p.embeddings ? std::max(p.batch_size, ctx_seq) : p.batch_size;
  cp.n_ubatch = p.embeddings ? cp.n_batch : std::min<uint32_t>(cp.n_batch, 512);
  cp.n_threads = std::max(1, p.threads);
  cp.n_threads_batch = std::max(1, p.batch_threads);
  cp.embeddings = p.embeddings;
  cp.no_perf = true;
  cp.abort_callback = AbortDecode;
  cp.abort_callback_data = &abort_all_;
  if (p.embeddings) {
    cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED;
    // Embeddings clear the memory after every batch (model_core_embed.cpp): one unified cache of one
    // batch's tokens serves all sequences, and keeps each batch one ubatch, so pooling stays per text.
    cp.kv_unified = true;
    cp.n_ctx = cp.n_batch;
    // A sequence holds at least one token, and llama.cpp reserves an output per sequence within n_batch.
    n_seq_max_ = cp.n_seq_max = std::min(n_seq_max_, cp.n_batch);
  }

  ctx_ = llama_init_from_model(model_, cp);
  if (ctx_ == nullptr) {
    std::string log = capture.Text();
    FreeLlama();
    ErrorCode code = log.find("alloc") != std::string::npos ? ErrorCode::InsufficientMemory : ErrorCode::LoadFailed;
    return {code, "llama.cpp could not create a context for " + p.path + (log.empty() ? "" : ": " + log)};
  }
  n_ctx_seq_ = p.embeddings ? ctx_seq : llama_n_ctx_seq(ctx_);  // the longest text an embedding takes
  n_batch_ = llama_n_batch(ctx_);
  threads_ = cp.n_threads;
  batch_threads_ = cp.n_threads_batch;
  // The load has repacked or offloaded what it will: the mapping's pages no tensor reads any more
  // need not stay in this process (see memory.h).
  if (!p.no_alloc && p.mmap && !p.mlock) ReleaseColdMappedPages(model_);
  memory_ = MeasureMemory(ctx_, model_);
  if (!p.no_alloc) {
    batch_ = llama_batch_init((int32_t)n_batch_, 0, (int32_t)n_seq_max_);
    batch_ready_ = true;
  }
  load_ms_ = NowMs() - t0;
  return {};
}

std::vector<MemoryEntry> ModelCore::Memory() const { return memory_; }

void ModelCore::FreeLlama() {
  if (batch_ready_) {
    llama_batch_free(batch_);
    batch_ready_ = false;
  }
  if (ctx_ != nullptr) {
    llama_free(ctx_);
    ctx_ = nullptr;
  }
  // Adapters belong to the model: free them first (every request using one has finished by now).
  ctx_adapter_.reset();
  {
    std::lock_guard<std::mutex> lock(adapters_mutex_);
    adapters_.clear();
    retired_adapters_.clear();
  }
  if (model_ != nullptr) {
    llama_model_free(model_);
    model_ = nullptr;
  }
}

ModelCore::~ModelCore() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    abort_all_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // last reference dropped on the scheduler thread itself, after it freed everything
  } else {
    Join();
  }
  FreeLlama();
}

void ModelCore::Abort(const std::shared_ptr<Request>& request) {
  request->aborted = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = true;
  }
  cv_.notify_all();
}

void ModelCore::Start() { thread_ = std::thread([this] { Run(); }); }

void ModelCore::Join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool ModelCore::Submit(const std::shared_ptr<Request>& request, bool notify) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return false;
    request->stats.submitted_ms = NowMs();
    pending_.push_back(request);
    active_count_++;
  }
  if (notify) cv_.notify_one();
  return true;
}

void ModelCore::Wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = true;
  }
  cv_.notify_one();
}

void ModelCore::Close(bool abort_requests, std::function<void()> on_closed) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!closing_) on_closed_ = std::move(on_closed);
    closing_ = true;
    stop_ = true;
    if (abort_requests) abort_all_ = true;
  }
  cv_.notify_all();
}

bool ModelCore::RunOnScheduler(std::function<void()> task) {
  std::future<bool> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return false;
    tasks_.push_back(Task{std::move(task), {}});
    done = tasks_.back().done.get_future();
  }
  cv_.notify_one();
  return done.get();
}

void ModelCore::SetThreads(int32_t threads, int32_t batch_threads) {
  threads_ = std::max(1, threads);
  batch_threads_ = std::max(1, batch_threads);
}

}  // namespace modelpool
