#include "model_quantize_worker.h"

#include <cstdint>
#include <string>

#include "arguments.h"
#include "llama.h"
#include "log.h"

namespace modelpool {

class ModelQuantizeWorker : public Napi::AsyncWorker {
 public:
  ModelQuantizeWorker(Napi::Env env, std::string input, std::string output, llama_ftype ftype, int32_t threads)
      : Napi::AsyncWorker(env, "modelpool.quantize"),
        deferred_(Napi::Promise::Deferred::New(env)),
        input_(std::move(input)),
        output_(std::move(output)),
        ftype_(ftype),
        threads_(threads) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    LogCapture capture;
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.ftype = ftype_;
    qp.nthread = threads_;
    if (llama_model_quantize(input_.c_str(), output_.c_str(), &qp) != 0) {
      error_ = {ErrorCode::LoadFailed, "llama_model_quantize failed for " + input_ + ": " + capture.Text()};
    }
  }
  void OnOK() override {
    if (!error_.ok()) deferred_.Reject(MakeError(Env(), error_.code, error_.message).Value());
    else deferred_.Resolve(Env().Undefined());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string input_, output_;
  NativeError error_;
  llama_ftype ftype_;
  int32_t threads_;
};

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  std::string input = RequireNonEmptyString(info[0], "input");
  std::string output = RequireNonEmptyString(info[1], "output");
  // llama_model_quantize rejects an ftype it does not know; 0 threads = one per core.
  const auto ftype = (llama_ftype)RequireInteger(info[2], "ftype", 0, INT32_MAX);
  const auto threads = (int32_t)RequireInteger(info[3], "threads", 0, 1024);
  auto* worker = new ModelQuantizeWorker(info.Env(), std::move(input), std::move(output), ftype, threads);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace modelpool
