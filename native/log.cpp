#include "log.h"

#include <atomic>
#include <cstdio>

#include "llama.h"

namespace modelpool {

static std::atomic<int> g_log_level{GGML_LOG_LEVEL_ERROR + 1};  // nothing by default
static thread_local std::string* t_capture = nullptr;

static void LogCallback(ggml_log_level level, const char* text, void*) {
  static thread_local ggml_log_level last = GGML_LOG_LEVEL_INFO;
  // GGML_LOG_LEVEL_CONT continues the previous message at its level.
  if (level == GGML_LOG_LEVEL_CONT) level = last; else last = level;
  if (t_capture != nullptr && (level == GGML_LOG_LEVEL_ERROR || level == GGML_LOG_LEVEL_WARN)) {
    if (t_capture->size() < 4096) t_capture->append(text);
  }
  if (level != GGML_LOG_LEVEL_NONE && level >= g_log_level.load()) {
    fputs(text, stderr);
  }
}

void SetLogLevel(int level) { g_log_level.store(level); }
void InstallLogger() { llama_log_set(LogCallback, nullptr); }

LogCapture::LogCapture() { t_capture = new std::string(); }
LogCapture::~LogCapture() {
  delete t_capture;
  t_capture = nullptr;
}
std::string LogCapture::Text() const {
  std::string text = t_capture ? *t_capture : std::string();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace modelpool
