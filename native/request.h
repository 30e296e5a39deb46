// One generation or embedding request, as the scheduler thread of a ModelCore runs it.
//
// Threading: the input is filled on the JavaScript thread before Submit(); after that the scheduler
// thread alone touches the scheduler-thread state, and the output is guarded by `out_mutex` (the
// JavaScript thread reads it through the sink). `aborted` may be set from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapter.h"
#include "errors.h"
#include "llama.h"

namespace modelpool {

// Where a request is in its life, after llama.cpp server's slot_state. Read and written only on the
// scheduler thread, except Queued, which Submit() leaves as constructed.
enum class RequestState {
  Queued,      // submitted, waiting for a free sequence (generation) or its turn (embedding)
  Prompt,      // holds sequence `seq`; prompt tokens still to decode (n_prompt_done < prompt.size())
               // (an Evaluate request stays here to its end: its continuation is part of `prompt`)
  Generating,  // holds sequence `seq`; the whole prompt is in the batch, one token per step from now on
  Embedding,   // being embedded (runs to the end within one scheduler step)
  Finished,    // over: finish_reason or error set, sequence freed, sink told
};

// Why a request ended. None while it runs, and when it ended with an error.
enum class FinishReason { None, Stop, Length, Eos, Abort };

struct RequestStats {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // taken from the prompt cache, not decoded
  int32_t generated_tokens = 0;
  double submitted_ms = 0;  // all times: ms on a steady clock
  double admitted_ms = 0;
  double first_token_ms = 0;
  double finished_ms = 0;
  double native_ms = 0;
  double cpu_ms = 0;
};

// What the scheduler sends back for one request. Called on the scheduler thread; it must not block.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // New text is ready: the sink should arrange for TakeText() to be called soon.
  virtual void TextReady() = 0;
  // The request is over (finish_reason or error set). Called exactly once, last.
  virtual void Finished() = 0;
};

// A token's log probability under the model's distribution (log-softmax of the logits), with the
// most likely alternatives at that position.
struct TokenProb {
  llama_token id = -1;
  float logprob = 0;
  std::vector<std::pair<llama_token, float>> top;  // most likely first
  size_t offset = 0;  // byte offset of the token's text in the generated text (generation)
};

struct Request {
  // Evaluate: score `prompt[score_from..]` (the continuation) given what precedes it; nothing is sampled.
  // Prefill: decode the prompt into a sequence and save that sequence's KV state (`kv_state`).
  enum class Kind { Generate, Embed, Evaluate, Prefill };
  Kind kind = Kind::Generate;

  // Input (filled on the JavaScript thread before submission).
  std::vector<llama_token> prompt;
  std::vector<std::vector<llama_token>> embed_inputs;
  int32_t max_tokens = 256;
  std::vector<std::string> stop;
  llama_sampler* sampler = nullptr;  // owned
  std::shared_ptr<Adapter> adapter;  // none: the base model alone
  float adapter_scale = 1.0f;
  bool cache_prompt = true;  // reuse a free sequence's cached prefix
  int32_t n_probs = -1;      // -1: no log probabilities; 0: the chosen token's; k > 0: also the top k
  size_t score_from = 0;     // Evaluate: index in `prompt` of the first scored token (>= 1)
  const llama_vocab* vocab = nullptr;  // for token text on the JavaScript thread (immutable)
  std::shared_ptr<RequestSink> sink;
  std::atomic<bool> aborted{false};

  // Output, guarded by out_mutex.
  std::mutex out_mutex;
  std::string unsent;  // text produced but not yet taken by JavaScript
  FinishReason finish_reason = FinishReason::None;
  NativeError error;
  std::string full_text;  // final text (stop string removed)
  std::vector<std::vector<float>> embeddings;
  RequestStats stats;
  std::vector<TokenProb> unsent_probs;  // log probabilities of tokens whose text went to `unsent`
  std::vector<TokenProb> all_probs;     // final: every reported token (stop-string tail removed)
  std::vector<uint8_t> kv_state;        // Prefill: the sequence's KV state once the prompt is in it

  // Scheduler-thread state.
  RequestState state = RequestState::Queued;
  int32_t seq = -1;  // the sequence it holds in the Prompt and Generating states
  size_t n_prompt_done = 0;
  llama_pos n_past = 0;
  int32_t batch_index = -1;  // index of this sequence's logits in the current batch
  llama_token last_token = -1;
  uint64_t last_step = 0;  // scheduler step this request last decoded in (fair turns between adapters)
  std::vector<TokenProb> probs;  // every reported token so far
  size_t probs_sent = 0;         // probs[0..probs_sent) went to unsent_probs
  std::vector<std::pair<int32_t, size_t>> score_rows;  // Evaluate: (batch row, index of the scored token)
  std::string generated;  // raw generated bytes
  size_t emitted = 0;  // bytes of `generated` released to `unsent`
  double last_flush_ms = 0;

  ~Request();
  // Moves unsent text (and the log probabilities that go with it) out (JavaScript thread).
  std::string TakeText(std::vector<TokenProb>* probs = nullptr);
};

}  // namespace modelpool
