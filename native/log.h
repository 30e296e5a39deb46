// llama.cpp's log, routed: messages at or above a level go to stderr, and errors raised while a
// LogCapture is alive on the calling thread are collected for the messages of typed errors.
//
// Thread-safety: SetLogLevel and InstallLogger are safe from any thread. A LogCapture belongs to the
// thread that made it and collects only that thread's messages.
#pragma once

#include <string>

namespace modelpool {

void SetLogLevel(int level);
void InstallLogger();

struct LogCapture {
  LogCapture();
  ~LogCapture();
  std::string Text() const;
};

}  // namespace modelpool
