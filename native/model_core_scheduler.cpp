// The scheduler thread of a ModelCore: admits queued requests into free sequences, batches one
// llama_decode per step over every active sequence, samples, and sends text back through the sinks.
// Every function here runs on the scheduler thread (see model_core.h).
#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>

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
    // A token's log probability goes out with the chunk that carries the start of its text.
    while (r.probs_sent < r.probs.size() && r.probs[r.probs_sent].offset < safe) r.unsent_probs.push_back(r.probs[r.probs_sent++]);
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
    // The sequence keeps its KV and seq_cache_ its tokens: the prompt cache of the next request.
    seq_cache_[(size_t)r.seq].used = step_count_;
    // Kept in descending order so back() is the lowest free id: see Admit().
    free_seqs.insert(std::upper_bound(free_seqs.begin(), free_seqs.end(), r.seq, std::greater<int32_t>()), r.seq);
    r.seq = -1;
  }
  r.state = RequestState::Finished;
  // The adapter's last reference may be this one: drop it here, on the scheduler thread.
  r.adapter.reset();
  {
    std::lock_guard<std::mutex> lock(r.out_mutex);
    if (r.error.ok()) {
      r.finish_reason = reason;
      std::string text = r.generated;
      if (reason == FinishReason::Stop && r.kind == Request::Kind::Generate) {
        // Cut at the earliest stop string.
        size_t cut = text.size();
        for (const std::string& s : r.stop) {
          size_t pos = text.find(s);
          if (pos != std::string::npos) cut = std::min(cut, pos);
        }
        text.resize(cut);
      }
      if (text.size() > r.emitted) r.unsent.append(text, r.emitted, std::string::npos);
      // Tokens whose text starts after the cut (the stop string) are not part of the answer.
      const bool scored = r.kind == Request::Kind::Evaluate;
      size_t keep = r.probs.size();
      if (!scored) {
        keep = 0;
        while (keep < r.probs.size() && (r.probs[keep].offset < text.size() || text.size() == r.generated.size())) keep++;
      }
      for (size_t i = r.probs_sent; i < keep; i++) r.unsent_probs.push_back(r.probs[i]);
      r.probs.resize(keep);
      r.all_probs = std::move(r.probs);
      r.full_text = std::move(text);
    }
    r.stats.finished_ms = now;
    if (r.stats.admitted_ms == 0) r.stats.admitted_ms = now;
  }
  active_count_--;
  r.sink->Finished();
}

TokenProb ModelCore::ProbsAt(int32_t row, llama_token token, int32_t n_top) {
  TokenProb p;
  p.id = token;
  const float* logits = llama_get_logits_ith(ctx_, row);
  const int32_t n_vocab = llama_vocab_n_tokens(vocab_);
  if (logits == nullptr || token < 0 || token >= n_vocab) {
    p.logprob = NAN;
    return p;
  }
  float max = -INFINITY;
  for (int32_t i = 0; i < n_vocab; i++) max = std::max(max, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; i++) sum += std::exp((double)(logits[i] - max));
  const double log_z = (double)max + std::log(sum);
  p.logprob = (float)((double)logits[token] - log_z);
  if (n_top > 0) {
    // The n_top largest logits: a min-heap of that size over the vocabulary.
    using Entry = std::pair<float, llama_token>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    for (int32_t i = 0; i < n_vocab; i++) {
      if ((int32_t)heap.size() < n_top) {
        heap.push({logits[i], i});
      } else if (logits[i] > heap.top().first) {
        heap.pop();
        heap.push({logits[i], i});
      }
    }
    p.top.resize(heap.size());
    for (size_t i = heap.size(); i > 0; i--) {
      p.top[i - 1] = {heap.top().second, (float)((double)heap.top().first - log_z)};
      heap.pop();
    }
  }
  return p;
}

void ModelCore::TakeSequence(Request& r, std::vector<int32_t>& free_seqs) {
  const uint64_t adapter_id = r.adapter ? r.adapter->id : 0;
  const float scale = r.adapter ? r.adapter_scale : 0.0f;
  // Longest shared prefix first; among equals an empty sequence, then the least recently used, then
  // the lowest id (free_seqs is descending, so scanning from the back meets low ids first).
  size_t best = free_seqs.size() - 1, best_len = 0;
  for (size_t k = free_seqs.size(); k > 0; k--) {
    const size_t i = k - 1;
    const SeqCache& c = seq_cache_[(size_t)free_seqs[i]];
    size_t n = 0;
    if (r.cache_prompt && c.adapter_id == adapter_id && c.adapter_scale == scale) {
      const size_t max = std::min(c.tokens.size(), r.prompt.size());
      while (n < max && c.tokens[n] == r.prompt[n]) n++;
    }
    const SeqCache& b = seq_cache_[(size_t)free_seqs[best]];
    const bool better = n > best_len ||
                        (n == best_len && (c.tokens.empty() != b.tokens.empty() ? c.tokens.empty() : c.used < b.used));
    if (better) {
      best = i;
      best_len = n;
    }
  }
  const int32_t seq = free_seqs[best];
  free_seqs.erase(free_seqs.begin() + (std::ptrdiff_t)best);
  SeqCache& c = seq_cache_[(size_t)seq];
  // The last prompt token is decoded again even when cached: its logits give the first token. An
  // evaluation needs the logits of every position from the one before its continuation.
  size_t keep = std::min(best_len, r.prompt.size() - 1);
  if (r.kind == Request::Kind::Evaluate) keep = std::min(keep, r.score_from - 1);
  llama_memory_t mem = llama_get_memory(ctx_);
  if (keep > 0) {
    // With a sliding window the cache may no longer hold the positions just below `keep`
    // (llama-server's check): then nothing can be reused.
    const llama_pos pos_min = llama_memory_seq_pos_min(mem, seq);
    const int32_t n_swa = llama_model_n_swa(model_);
    if (pos_min > 0 && n_swa > 0 && pos_min > std::max<llama_pos>(0, (llama_pos)keep - n_swa)) keep = 0;
  }
  if (c.tokens.size() > keep && !llama_memory_seq_rm(mem, seq, (llama_pos)keep, -1)) {
    // Memories that cannot drop a tail (recurrent models) start the sequence over.
    llama_memory_seq_rm(mem, seq, -1, -1);
    keep = 0;
  }
  c.tokens.resize(std::min(c.tokens.size(), keep));
  c.adapter_id = adapter_id;
  c.adapter_scale = scale;
  c.used = step_count_;
  r.seq = seq;
  r.n_prompt_done = keep;
  r.n_past = (llama_pos)keep;
  r.stats.cached_prompt_tokens = (int32_t)keep;
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
      TakeSequence(*r, free_seqs);
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

  // llama.cpp sets LoRA adapters per context, not per sequence: a step decodes only the requests of
  // one adapter choice, that of the request that has waited longest since its last step, so requests
  // of different adapters take turns and requests of one adapter (the usual case) always batch.
  const Request* lead = nullptr;
  for (auto& r : active) {
    if (lead == nullptr || r->last_step < lead->last_step) lead = r.get();
  }
  const std::shared_ptr<Adapter> lead_adapter = lead->adapter;
  const float lead_scale = lead->adapter_scale;
  auto in_step = [&](const Request& r) {
    return r.adapter == lead_adapter && (!r.adapter || r.adapter_scale == lead_scale);
  };
  const uint64_t step = ++step_count_;

  // Generating sequences first (one token each), then prompt chunks in arrival order.
  batch_.n_tokens = 0;
  auto add = [&](Request& r, llama_token tok, bool logits) {
    int32_t i = batch_.n_tokens++;
    batch_.token[i] = tok;
    batch_.pos[i] = r.n_past++;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = r.seq;
    batch_.logits[i] = logits;
    seq_cache_[(size_t)r.seq].tokens.push_back(tok);
    r.last_step = step;
    return i;
  };
  for (auto& r : active) {
    r->batch_index = -1;
    if (r->state == RequestState::Generating && batch_.n_tokens < (int32_t)n_batch_ && in_step(*r)) {
      r->batch_index = add(*r, r->last_token, true);
    }
  }
  for (auto& r : active) {
    if (!in_step(*r)) continue;
    const bool scoring = r->kind == Request::Kind::Evaluate;
    while (r->state == RequestState::Prompt && r->n_prompt_done < r->prompt.size() && batch_.n_tokens < (int32_t)n_batch_) {
      const size_t i = r->n_prompt_done++;
      const bool last = i + 1 == r->prompt.size();
      // Evaluate: the logits of position i give the probability of token i + 1 (a scored one).
      const bool scored_row = scoring && !last && i + 1 >= r->score_from;
      const bool prefill = r->kind == Request::Kind::Prefill;
      const int32_t row = add(*r, r->prompt[i], scoring ? scored_row : last && !prefill);
      if (scored_row) r->score_rows.push_back({row, i + 1});
      if (last && !scoring && !prefill) {
        r->batch_index = row;
        r->state = RequestState::Generating;  // its first token is sampled from this batch
      }
    }
  }
  if (batch_.n_tokens == 0) return;

  const int32_t nt = threads_.load(), nbt = batch_threads_.load();
  if (nt != llama_n_threads(ctx_) || nbt != llama_n_threads_batch(ctx_)) llama_set_n_threads(ctx_, nt, nbt);

  // llama.cpp computes a one-token micro-batch with n_threads and a longer one with n_threads_batch;
  // the larger team contains the smaller (OpenMP hands out the calling thread's workers in order).
  const int32_t team = std::max(nt, nbt);
  const double t0 = NowMs(), c0 = ComputeTeamCpuMs(team);
  const int32_t rc = ApplyAdapter(*lead) ? llama_decode(ctx_, batch_) : -100;
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
    // 2 = aborted (shutdown or forced close); 1 = no KV slot; <0 = error. Fail everything in the batch,
    // whose sequences' KV is now unknown: their prompt cache is dropped.
    const std::string message = rc == 2     ? "aborted"
                                : rc == -100 ? "llama.cpp could not set the LoRA adapter on the context"
                                             : "llama_decode failed with status " + std::to_string(rc);
    for (auto it = active.begin(); it != active.end();) {
      Request& r = **it;
      if (tokens_per_seq_[(size_t)r.seq] > 0) {
        llama_memory_seq_rm(llama_get_memory(ctx_), r.seq, -1, -1);
        seq_cache_[(size_t)r.seq].tokens.clear();
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
    if (r.kind == Request::Kind::Prefill) {
      if (r.n_prompt_done == r.prompt.size()) {
        std::vector<uint8_t> state = SequenceState(r.seq);
        std::lock_guard<std::mutex> lock(r.out_mutex);
        r.kv_state = std::move(state);
        done = true;
        reason = FinishReason::Stop;
      }
    } else if (r.kind == Request::Kind::Evaluate) {
      for (const auto& [row, index] : r.score_rows) r.probs.push_back(ProbsAt(row, r.prompt[index], r.n_probs));
      r.score_rows.clear();
      if (r.n_prompt_done == r.prompt.size()) {
        done = true;
        reason = FinishReason::Stop;
      }
    } else if (r.batch_index >= 0) {
      const llama_token tok = llama_sampler_sample(r.sampler, ctx_, r.batch_index);
      if (r.n_probs >= 0 && !llama_vocab_is_eog(vocab_, tok)) {
        r.probs.push_back(ProbsAt(r.batch_index, tok, r.n_probs));
        r.probs.back().offset = r.generated.size();
      }
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

void ModelCore::RunTasks() {
  std::deque<Task> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks.swap(tasks_);
  }
  for (Task& t : tasks) {
    t.run();
    t.done.set_value(true);
  }
}

void ModelCore::Run() {
  std::vector<std::shared_ptr<Request>> active;
  std::vector<int32_t>& free_seqs = free_seqs_;
  free_seqs.clear();
  for (int32_t s = (int32_t)n_seq_max_ - 1; s >= 0; s--) free_seqs.push_back(s);
  seq_cache_.assign(n_seq_max_, SeqCache{});

  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stop_ || wake_ || !tasks_.empty() || !active.empty() || (!pending_.empty() && !free_seqs.empty());
      });
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
    RunTasks();
    ReleaseRetiredAdapters();
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

  // Tasks posted before Close() still run (their callers are waiting); none can arrive after it.
  RunTasks();
  FreeLlama();
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(on_closed_);
  }
  if (done) done();
}

}  // namespace modelpool
