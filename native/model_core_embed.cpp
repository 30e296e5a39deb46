// Embedding requests of a ModelCore: run on the scheduler thread, between generation steps (see
// model_core.h). Every function here runs on the scheduler thread.
//
// Texts are packed into as few decodes as fit: each text is its own sequence of one batch, as many as
// fit in n_batch tokens and n_seq_max sequences (the way llama.cpp's llama-embedding batches). Every text
// fits one batch: model.cpp refuses a text longer than the per-sequence context, which is at most
// n_batch (Load), so no text is ever chunked. An embedding context keeps one unified cache of one
// batch's tokens (Load) and n_ubatch == n_batch, so a batch is computed as one ubatch and a sequence's
// pooled vector is never assembled from parts.
#include <algorithm>

#include "cpu_time.h"
#include "model_core.h"

namespace modelpool {

namespace {

// Where each text of one batch sits in it.
struct Packed {
  size_t text = 0;       // index in Request::embed_inputs
  int32_t first_row = 0;  // batch row of its first token
  int32_t n_rows = 0;
};

}  // namespace

void ModelCore::RunEmbed(const std::shared_ptr<Request>& r) {
  std::vector<int32_t> none;
  const enum llama_pooling_type pooling = llama_pooling_type(ctx_);
  const int32_t n_embd = llama_model_n_embd_out(model_) > 0 ? llama_model_n_embd_out(model_) : llama_model_n_embd(model_);
  // A reranker's pooled output is its classifier's scores, not a vector of n_embd.
  const int32_t n_out = pooling == LLAMA_POOLING_TYPE_RANK ? (int32_t)llama_model_n_cls_out(model_) : n_embd;
  // Encoder-only models (BERT) have no memory: every llama_memory_* call is guarded.
  llama_memory_t mem = llama_get_memory(ctx_);
  const bool encoder_only = llama_model_has_encoder(model_) && !llama_model_has_decoder(model_);
  // The larger of the two thread counts covers both kinds of micro-batch (see Step()).
  const int32_t nbt = std::max(llama_n_threads(ctx_), llama_n_threads_batch(ctx_));
  const auto& inputs = r->embed_inputs;
  std::vector<std::vector<float>> results(inputs.size());
  std::vector<Packed> packed;
  size_t next = 0;
  while (next < inputs.size() && r->error.ok()) {
    if (r->aborted || abort_all_) break;
    batch_.n_tokens = 0;
    packed.clear();
    while (next < inputs.size() && packed.size() < n_seq_max_ &&
           (size_t)batch_.n_tokens + inputs[next].size() <= n_batch_) {
      const auto& tokens = inputs[next];
      const auto seq = (llama_seq_id)packed.size();
      packed.push_back({next, batch_.n_tokens, (int32_t)tokens.size()});
      for (size_t i = 0; i < tokens.size(); i++) {
        const int32_t row = batch_.n_tokens++;
        batch_.token[row] = tokens[i];
        batch_.pos[row] = (llama_pos)i;
        batch_.n_seq_id[row] = 1;
        batch_.seq_id[row][0] = seq;
        batch_.logits[row] = true;
      }
      next++;
    }
    if (packed.empty()) {
      // Unreachable while model.cpp bounds each text by the context (<= n_batch); kept so a change there
      // gives an error instead of an endless loop.
      std::lock_guard<std::mutex> lock(r->out_mutex);
      r->error = {ErrorCode::ContextOverflow, "texts[" + std::to_string(next) + "] has " + std::to_string(inputs[next].size()) +
                                                  " tokens, more than one batch holds (" + std::to_string(n_batch_) + ")"};
      break;
    }
    if (mem != nullptr) llama_memory_clear(mem, true);
    const double t0 = NowMs(), c0 = ComputeTeamCpuMs(nbt);
    const int32_t rc = encoder_only ? llama_encode(ctx_, batch_) : llama_decode(ctx_, batch_);
    const double wall = NowMs() - t0;
    r->stats.native_ms += wall;
    r->stats.cpu_ms += StepCpuMs(c0, ComputeTeamCpuMs(nbt), wall, nbt);
    r->stats.prompt_tokens += batch_.n_tokens;
    if (rc != 0) {
      std::lock_guard<std::mutex> lock(r->out_mutex);
      r->error = {ErrorCode::GenerationFailed, "llama_decode failed with status " + std::to_string(rc) + " while embedding"};
      break;
    }
    for (size_t s = 0; s < packed.size(); s++) {
      std::vector<float>& out = results[packed[s].text];
      out.assign((size_t)n_out, 0.0f);
      if (pooling != LLAMA_POOLING_TYPE_NONE) {
        const float* e = llama_get_embeddings_seq(ctx_, (llama_seq_id)s);
        if (e) std::copy(e, e + n_out, out.begin());
        continue;
      }
      // No pooling in the model: the mean of the text's token embeddings (one vector per text, whatever
      // the model; llama-embedding would print each token's instead).
      const float scale = 1.0f / (float)packed[s].n_rows;
      for (int32_t row = packed[s].first_row; row < packed[s].first_row + packed[s].n_rows; row++) {
        const float* e = llama_get_embeddings_ith(ctx_, row);
        if (!e) continue;
        for (int32_t j = 0; j < n_out; j++) out[(size_t)j] += e[j] * scale;
      }
    }
  }
  if (mem != nullptr) llama_memory_clear(mem, true);
  {
    std::lock_guard<std::mutex> lock(r->out_mutex);
    if (r->error.ok() && next == inputs.size()) r->embeddings = std::move(results);
  }
  Finish(*r, (r->aborted || abort_all_) ? FinishReason::Abort : FinishReason::Stop, none);
}

}  // namespace modelpool
