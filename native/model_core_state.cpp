// KV state of a ModelCore's sequences: saved from a sequence's prompt cache and restored into a free
// sequence, with llama.cpp's llama_state_seq_* functions. The context belongs to the scheduler thread,
// so every llama.cpp call here runs there (RunOnScheduler), between two decode steps.
#include <cstring>

#include "model_core.h"

namespace modelpool {

// llama.cpp's state of one sequence of a plain KV cache (no sliding window, not recurrent or hybrid)
// starts with a magic and the sequence id (8 bytes, kHead), then the cache's stream count, then one block per stream: a cell count, then the cells. With
// a cache per sequence the count is the context's sequence count, and only the sequence's own stream
// has cells; llama.cpp refuses the data in a context with another count. So the state is kept with
// one stream (the sequence's block) and given the target context's count on restore, which lets a
// state move between loads with different `parallel`. Other memories keep llama.cpp's own bytes.
static bool PlainKvCache(const llama_model* model) {
  return llama_model_n_swa(model) == 0 && !llama_model_is_recurrent(model) && !llama_model_is_hybrid(model);
}

static constexpr size_t kHead = 8;

static uint32_t ReadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

std::vector<uint8_t> ModelCore::SequenceState(int32_t seq) {
  std::vector<uint8_t> data(llama_state_seq_get_size(ctx_, seq));
  const size_t n = llama_state_seq_get_data(ctx_, data.data(), data.size(), seq);
  data.resize(n);
  const size_t streams = n_seq_max_, before = 4 * (size_t)seq, after = 4 * (streams - 1 - (size_t)seq);
  if (!PlainKvCache(model_) || streams == 1 || data.size() < kHead + 4 + before + after + 4 || ReadU32(data.data() + kHead) != streams) {
    return data;
  }
  // The other streams' blocks are empty: a zero cell count each, before and after the sequence's own.
  for (size_t i = kHead + 4; i < kHead + 4 + before; i++) {
    if (data[i] != 0) return data;
  }
  for (size_t i = data.size() - after; i < data.size(); i++) {
    if (data[i] != 0) return data;
  }
  std::vector<uint8_t> one;
  one.reserve(data.size() - before - after);
  const uint32_t one_stream = 1;
  one.insert(one.end(), data.begin(), data.begin() + kHead);
  one.insert(one.end(), (const uint8_t*)&one_stream, (const uint8_t*)&one_stream + 4);
  one.insert(one.end(), data.begin() + (std::ptrdiff_t)(kHead + 4 + before), data.end() - (std::ptrdiff_t)after);
  return one;
}

// A one-stream state (see SequenceState) in the layout this context reads.
static std::vector<uint8_t> ForStreams(const std::vector<uint8_t>& data, uint32_t streams) {
  std::vector<uint8_t> out;
  out.reserve(data.size() + 4 * streams);
  out.insert(out.end(), data.begin(), data.begin() + kHead);
  out.insert(out.end(), (const uint8_t*)&streams, (const uint8_t*)&streams + 4);
  out.insert(out.end(), data.begin() + kHead + 4, data.end());
  out.resize(out.size() + 4 * (size_t)(streams - 1), 0);
  return out;
}

NativeError ModelCore::SaveCachedSequences(size_t min_tokens, std::vector<SavedSequence>& out) {
  const bool ran = RunOnScheduler([&] {
    for (const int32_t seq : free_seqs_) {
      const SeqCache& c = seq_cache_[(size_t)seq];
      if (c.tokens.empty() || c.tokens.size() < min_tokens) continue;
      SavedSequence saved;
      if (c.adapter_id != 0) {
        // The KV was computed with an adapter: it is only worth keeping while that adapter is loaded.
        std::lock_guard<std::mutex> lock(adapters_mutex_);
        for (const auto& entry : adapters_) {
          if (entry.second->id == c.adapter_id) saved.adapter = entry.first;
        }
        if (saved.adapter.empty()) continue;
        saved.adapter_scale = c.adapter_scale;
      }
      saved.tokens = c.tokens;
      saved.data = SequenceState(seq);
      if (!saved.data.empty()) out.push_back(std::move(saved));
    }
  });
  if (!ran) return {ErrorCode::Disposed, "the model has been disposed"};
  return {};
}

NativeError ModelCore::RestoreSequence(const SavedSequence& saved, int32_t& seq_out) {
  seq_out = -1;
  std::shared_ptr<Adapter> adapter;
  if (!saved.adapter.empty()) {
    adapter = FindAdapter(saved.adapter);
    if (!adapter) {
      return {ErrorCode::StateMismatch, "the state was saved with the adapter \"" + saved.adapter + "\", which this model has not loaded"};
    }
  }
  if (saved.tokens.empty() || saved.tokens.size() >= n_ctx_seq_) {
    return {ErrorCode::ContextOverflow, "the state holds " + std::to_string(saved.tokens.size()) +
                                            " tokens but the context holds " + std::to_string(n_ctx_seq_) + " per sequence"};
  }
  NativeError error;
  const bool ran = RunOnScheduler([&] {
    if (free_seqs_.empty()) {
      error = {ErrorCode::QueueFull, "no sequence of the model is free to restore a state into"};
      return;
    }
    // An empty sequence first, else the least recently used one, as a new request would take.
    size_t best = free_seqs_.size() - 1;
    for (size_t k = free_seqs_.size(); k > 0; k--) {
      const SeqCache& c = seq_cache_[(size_t)free_seqs_[k - 1]];
      const SeqCache& b = seq_cache_[(size_t)free_seqs_[best]];
      if (c.tokens.empty() != b.tokens.empty() ? c.tokens.empty() : c.used < b.used) best = k - 1;
    }
    const int32_t seq = free_seqs_[best];
    llama_memory_t mem = llama_get_memory(ctx_);
    SeqCache& c = seq_cache_[(size_t)seq];
    llama_memory_seq_rm(mem, seq, -1, -1);
    c.tokens.clear();
    const bool widen = PlainKvCache(model_) && n_seq_max_ > 1 && saved.data.size() >= kHead + 4 && ReadU32(saved.data.data() + kHead) == 1;
    const std::vector<uint8_t> data = widen ? ForStreams(saved.data, n_seq_max_) : saved.data;
    if (llama_state_seq_set_data(ctx_, data.data(), data.size(), seq) == 0) {
      llama_memory_seq_rm(mem, seq, -1, -1);
      error = {ErrorCode::StateMismatch, "llama.cpp refused the state: it was not saved from this model with this context"};
      return;
    }
    c.tokens = saved.tokens;
    c.adapter_id = adapter ? adapter->id : 0;
    c.adapter_scale = adapter ? saved.adapter_scale : 0.0f;
    c.used = step_count_;
    seq_out = seq;
  });
  if (!ran) return {ErrorCode::Disposed, "the model has been disposed"};
  return error;
}

}  // namespace modelpool
