#include "request.h"

namespace modelpool {

Request::~Request() {
  if (sampler != nullptr) llama_sampler_free(sampler);
}

std::string Request::TakeText() {
  std::lock_guard<std::mutex> lock(out_mutex);
  std::string text;
  text.swap(unsent);
  return text;
}

}  // namespace modelpool
