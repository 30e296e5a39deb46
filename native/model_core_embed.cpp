// Embedding requests of a ModelCore: run on the scheduler thread, between generation steps (see
// model_core.h). Every function here runs on the scheduler thread.
#include <algorithm>

#include "cpu_time.h"
#include "model_core.h"

namespace modelpool {

void ModelCore::RunEmbed(const std::shared_ptr<Request>& r) {
  std::vector<int32_t> none;
  const int32_t n_embd = llama_model_n_embd_out(model_) > 0 ? llama_model_n_embd_out(model_) : llama_model_n_embd(model_);
  const bool pooled = llama_pooling_type(ctx_) != LLAMA_POOLING_TYPE_NONE;
  llama_memory_t mem = llama_get_memory(ctx_);
  for (const auto& tokens : r->embed_inputs) {
    if (r->aborted || abort_all_) break;
    llama_memory_clear(mem, true);
    batch_.n_tokens = 0;
    for (size_t i = 0; i < tokens.size(); i++) {
      batch_.token[i] = tokens[i];
      batch_.pos[i] = (llama_pos)i;
      batch_.n_seq_id[i] = 1;
      batch_.seq_id[i][0] = 0;
      batch_.logits[i] = true;
    }
    batch_.n_tokens = (int32_t)tokens.size();
    // The larger of the two thread counts covers both kinds of micro-batch (see Step()).
    const int32_t nbt = std::max(llama_n_threads(ctx_), llama_n_threads_batch(ctx_));
    const double t0 = NowMs(), c0 = ComputeTeamCpuMs(nbt);
    int32_t rc = llama_model_has_encoder(model_) && !llama_model_has_decoder(model_) ? llama_encode(ctx_, batch_)
                                                                                      : llama_decode(ctx_, batch_);
    const double wall = NowMs() - t0;
    r->stats.native_ms += wall;
    r->stats.cpu_ms += StepCpuMs(c0, ComputeTeamCpuMs(nbt), wall, nbt);
    r->stats.prompt_tokens += (int32_t)tokens.size();
    if (rc != 0) {
      std::lock_guard<std::mutex> lock(r->out_mutex);
      r->error = {ErrorCode::GenerationFailed, "llama_decode failed with status " + std::to_string(rc) + " while embedding"};
      break;
    }
    std::vector<float> out((size_t)n_embd, 0.0f);
    if (pooled) {
      const float* e = llama_get_embeddings_seq(ctx_, 0);
      if (e) std::copy(e, e + n_embd, out.begin());
    } else {
      // No pooling in the model: mean of the token embeddings.
      for (size_t i = 0; i < tokens.size(); i++) {
        const float* e = llama_get_embeddings_ith(ctx_, (int32_t)i);
        if (!e) continue;
        for (int32_t j = 0; j < n_embd; j++) out[(size_t)j] += e[j] / (float)tokens.size();
      }
    }
    r->embeddings.push_back(std::move(out));
  }
  llama_memory_clear(mem, true);
  Finish(*r, (r->aborted || abort_all_) ? FinishReason::Abort : FinishReason::Stop, none);
}

}  // namespace modelpool
