// The scheduler thread of a ModelCore: admits queued requests into free sequences, batches one
// llama_decode per step over every active sequence, samples, and sends text back through the sinks.
// Every function here runs on the scheduler thread (see model_core.h).
#include <algorithm>
#include <functional>

#include "cpu_time.h"
#include "model_core.h"

namespace modelpool {

static void SendText(Request& r, double now, bool force) {
  // Hold back text that may be the start of a stop string and incomplete UTF-8 sequences.
  size_t safe = r.generated.size();
  for (const std::string& s : r.stop) {
    for (size_t k = std::min(s.size() - 1, r.generated.size()); k > 0; k--) {
      if (r.generated.compare(r.generated.size() - k, k, s, 0, k) == 0) {
        safe = std::min(safe, r.generated.size() - k);
        break;
      }
    }
  }
  // Back up over an incomplete trailing UTF-8 sequence.
  size_t i = safe;
  int back = 0;
  while (i > r.emitted && back < 4) {
    unsigned char c = (unsigned char)r.generated[i - 1];
    if ((c & 0xC0) == 0x80) { i--; back++; continue; }
    if (c >= 0xC0) {
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if ((size_t)(back + 1) < need) safe = i - 1;
    }
    break;
  }
  if (safe <= r.emitted) return;
  {
    std::lock_guard<std::mutex> lock(r.out_mutex);
    r.unsent.append(r.generated, r.emitted, safe - r.emitted);
  }
  r.emitted = safe;
  // First text goes out at once; later text is coalesced so JavaScript sees chunks, not tokens.
  if (force || r.last_flush_ms == 0 || now - r.last_flush_ms >= 8.0) {
    r.last_flush_ms = now;
    r.sink->TextReady();
  }
}

void ModelCore::Finish(Request& r, FinishReason reason, std::vector<int32_t>& free_seqs) {
  const double now = NowMs();
  if (r.state == RequestState::Prompt || r.state == RequestState::Generating) {
    llama_memory_seq_rm(llama_get_memory(ctx_), r.seq, -1, -1);
    // Kept in descending order so back() is the lowest free id: see Admit().
    free_seqs.insert(std::upper_bound(free_seqs.begin(), free_seqs.end(), r.seq, std::greater<int32_t>()), r.seq);
    r.seq = -1;
  }
  r.state = RequestState::Finished;
  {
    std::lock_guard<std::mutex> lock(r.out_mutex);
    if (r.error.ok()) {
      r.finish_reason = reason;
      std::string text = r.generated;
      if (reason == FinishReason::Stop) {
        // Cut at the earliest stop string.
        size_t cut = text.size();
        for (const std::string& s : r.stop) {
          size_t pos = text.find(s);
          if (pos != std::string::npos) cut = std::min(cut, pos);
        }
        text.resize(cut);
      }
      if (text.size() > r.emitted) r.unsent.append(text, r.emitted, std::string::npos);
      r.full_text = std::move(text);
    }
    r.stats.finished_ms = now;
    if (r.stats.admitted_ms == 0) r.stats.admitted_ms = now;
  }
  active_count_--;
  r.sink->Finished();
}

// Returns true when the request is finished.
bool ModelCore::AcceptToken(Request& r, llama_token token, double now) {
  if (r.stats.first_token_ms == 0) r.stats.first_token_ms = now;
  if (llama_vocab_is_eog(vocab_, token)) return true;
  r.stats.generated_tokens++;
  r.last_token = token;
  char buf[256];
  int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof(buf), 0, false);
  if (n < 0) {
    std::string big((size_t)-n, '\0');
    n = llama_token_to_piece(vocab_, token, big.data(), (int32_t)big.size(), 0, false);
    if (n > 0) r.generated.append(big.data(), (size_t)n);
  } else {
    r.generated.append(buf, (size_t)n);
  }
  return false;
}

void ModelCore::Admit(std::vector<std::shared_ptr<Request>>& active, std::vector<int32_t>& free_seqs) {
  std::unique_lock<std::mutex> lock(mutex_);
  const size_t before = active.size();
  while (!pending_.empty() && !free_seqs.empty()) {
    std::shared_ptr<Request> r = pending_.front();
    pending_.pop_front();
    lock.unlock();
    r->stats.admitted_ms = NowMs();
    if (r->kind == Request::Kind::Embed) {
      r->state = RequestState::Embedding;
      RunEmbed(r);
    } else if (r->aborted || abort_all_) {
      Finish(*r, FinishReason::Abort, free_seqs);
    } else {
      r->state = RequestState::Prompt;
      r->seq = free_seqs.back();
      free_seqs.pop_back();
      r->stats.prompt_tokens = (int32_t)r->prompt.size();
      active.push_back(r);
    }
    lock.lock();
  }
  // Sequences go into each batch in ascending id order and ids are handed out lowest first: llama.cpp
  // splits a batch for a per-sequence KV cache into runs of consecutive ids, so reversed or scattered
  // ids would turn one batched decode per step into one decode per sequence.
  if (active.size() != before) {
    std::sort(active.begin(), active.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
  }
}

void ModelCore::Step(std::vector<std::shared_ptr<Request>>& active, std::vector<int32_t>& free_seqs) {
  // Aborts first: their sequences are freed before the batch is built.
  for (auto it = active.begin(); it != active.end();) {
    if ((*it)->aborted || abort_all_) {
      Finish(**it, FinishReason::Abort, free_seqs);
      it = active.erase(it);
    } else {
      ++it;
    }
  }
  if (active.empty()) return;

  // Generating sequences first (one token each), then prompt chunks in arrival order.
  batch_.n_tokens = 0;
  auto add = [&](Request& r, llama_token tok, bool logits) {
    int32_t i = batch_.n_tokens++;
    batch_.token[i] = tok;
    batch_.pos[i] = r.n_past++;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = r.seq;
    batch_.logits[i] = logits;
    if (logits) r.batch_index = i;
  };
  for (auto& r : active) {
    r->batch_index = -1;
    if (r->state == RequestState::Generating && batch_.n_tokens < (int32_t)n_batch_) add(*r, r->last_token, true);
  }
  for (auto& r : active) {
    while (r->state == RequestState::Prompt && batch_.n_tokens < (int32_t)n_batch_) {
      const bool last = r->n_prompt_done + 1 == r->prompt.size();
      add(*r, r->prompt[r->n_prompt_done++], last);
      if (last) r->state = RequestState::Generating;  // its first token is sampled from this batch
    }
  }
  if (batch_.n_tokens == 0) return;

  const int32_t nt = threads_.load(), nbt = batch_threads_.load();
  if (nt != llama_n_threads(ctx_) || nbt != llama_n_threads_batch(ctx_)) llama_set_n_threads(ctx_, nt, nbt);

  // llama.cpp computes a one-token micro-batch with n_threads and a longer one with n_threads_batch;
  // the larger team contains the smaller (OpenMP hands out the calling thread's workers in order).
  const int32_t team = std::max(nt, nbt);
  const double t0 = NowMs(), c0 = ComputeTeamCpuMs(team);
  const int32_t rc = llama_decode(ctx_, batch_);
  decode_steps_++;
  const double t1 = NowMs();
  const double step_ms = t1 - t0, step_cpu = StepCpuMs(c0, ComputeTeamCpuMs(team), step_ms, team);

  // Share the step's CPU time (this model's threads only) by tokens, so a request's figure counts
  // the work done for it; wall time counts fully for every participant.
  tokens_per_seq_.assign(n_seq_max_, 0);
  for (int32_t i = 0; i < batch_.n_tokens; i++) tokens_per_seq_[(size_t)batch_.seq_id[i][0]]++;
  for (auto& r : active) {
    const int32_t n = tokens_per_seq_[(size_t)r->seq];
    if (n == 0) continue;
    r->stats.native_ms += step_ms;
    r->stats.cpu_ms += step_cpu * n / batch_.n_tokens;
  }

  if (rc != 0) {
    // 2 = aborted (shutdown or forced close); 1 = no KV slot; <0 = error. Fail everything in the batch.
    const std::string message = rc == 2 ? "aborted" : "llama_decode failed with status " + std::to_string(rc);
    for (auto it = active.begin(); it != active.end();) {
      Request& r = **it;
      if (tokens_per_seq_[(size_t)r.seq] > 0) {
        if (rc == 2) {
          Finish(r, FinishReason::Abort, free_seqs);
        } else {
          {
            std::lock_guard<std::mutex> lock(r.out_mutex);
            r.error = {ErrorCode::GenerationFailed, message};
          }
          Finish(r, FinishReason::None, free_seqs);
        }
        it = active.erase(it);
      } else {
        ++it;
      }
    }
    return;
  }

  for (auto it = active.begin(); it != active.end();) {
    Request& r = **it;
    bool done = false;
    FinishReason reason = FinishReason::None;
    if (r.batch_index >= 0) {
      const llama_token tok = llama_sampler_sample(r.sampler, ctx_, r.batch_index);
      if (AcceptToken(r, tok, t1)) {
        done = true;
        reason = FinishReason::Eos;
      } else {
        // Stop strings: search only the region the new piece can complete.
        for (const std::string& s : r.stop) {
          size_t from = r.generated.size() > s.size() + 64 ? r.generated.size() - s.size() - 64 : 0;
          if (r.generated.find(s, from) != std::string::npos) {
            done = true;
            reason = FinishReason::Stop;
            break;
          }
        }
        if (!done && (r.stats.generated_tokens >= r.max_tokens || (uint32_t)r.n_past + 1 >= n_ctx_seq_)) {
          done = true;
          reason = FinishReason::Length;
        }
      }
      if (!done) SendText(r, t1, false);
    }
    if (done) {
      Finish(r, reason, free_seqs);
      it = active.erase(it);
    } else {
      ++it;
    }
  }
}

void ModelCore::Run() {
  std::vector<std::shared_ptr<Request>> active;
  std::vector<int32_t> free_seqs;
  for (int32_t s = (int32_t)n_seq_max_ - 1; s >= 0; s--) free_seqs.push_back(s);

  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || wake_ || !active.empty() || (!pending_.empty() && !free_seqs.empty()); });
      wake_ = false;
      if (stop_ && active.empty() && pending_.empty()) break;
      // Requests aborted (or closed with abort) while still queued end now, not when a sequence frees.
      for (auto it = pending_.begin(); it != pending_.end();) {
        if ((*it)->aborted || abort_all_) {
          std::shared_ptr<Request> r = *it;
          it = pending_.erase(it);
          lock.unlock();
          Finish(*r, FinishReason::Abort, free_seqs);
          lock.lock();
          it = pending_.begin();
        } else {
          ++it;
        }
      }
    }
    Admit(active, free_seqs);
    Step(active, free_seqs);
    // Push out coalesced text of sequences that produced nothing new this step.
    const double now = NowMs();
    for (auto& r : active) {
      if (r->emitted > 0 && now - r->last_flush_ms >= 8.0) {
        std::lock_guard<std::mutex> lock(r->out_mutex);
        if (!r->unsent.empty()) {
          r->last_flush_ms = now;
          r->sink->TextReady();
        }
      }
    }
  }

  FreeLlama();
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(on_closed_);
  }
  if (done) done();
}

}  // namespace modelpool
