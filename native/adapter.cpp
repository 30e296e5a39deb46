#include "adapter.h"

namespace modelpool {

Adapter::~Adapter() {
  if (lora) llama_adapter_lora_free(lora);
}

}  // namespace modelpool
