#include "request.h"

namespace modelpool {

Request::~Request() {
  if (sampler != nullptr) llama_sampler_free(sampler);
}

std::string Request::TakeText(std::vector<TokenProb>* probs) {
  std::lock_guard<std::mutex> lock(out_mutex);
  std::string text;
  text.swap(unsent);
  if (probs) probs->swap(unsent_probs);
  return text;
}

}  // namespace modelpool
