#include "cpu_time.h"

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <ctime>
#endif

#if defined(MODELPOOL_OPENMP)
#include <omp.h>
#endif

namespace modelpool {

double ThreadCpuMs() {
#if defined(_WIN32)
  FILETIME created, exited, kernel, user;
  if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user)) return 0;
  auto ticks = [](const FILETIME& t) { return (static_cast<unsigned long long>(t.dwHighDateTime) << 32) | t.dwLowDateTime; };
  return static_cast<double>(ticks(kernel) + ticks(user)) / 1e4;  // 100 ns units
#else
  // Linux, macOS (10.12+) and the BSDs have a per-thread CPU clock.
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
#endif
}

double ComputeTeamCpuMs(int n_threads) {
#if defined(MODELPOOL_OPENMP)
  if (n_threads > 1) {
    // The same team ggml's `omp parallel num_threads(n)` uses on this thread: the runtime reuses the
    // calling thread's pool of workers for a team of the same size.
    double total = 0;
#pragma omp parallel num_threads(n_threads) reduction(+ : total)
    total += ThreadCpuMs();
    return total;
  }
#else
  (void)n_threads;
#endif
  return ThreadCpuMs();
}

bool ComputeCpuMeasured() {
#if defined(MODELPOOL_OPENMP)
  return true;
#else
  return false;
#endif
}

double StepCpuMs(double cpu_before, double cpu_after, double wall_ms, int n_threads) {
  const double measured = cpu_after - cpu_before;
  if (ComputeCpuMeasured() || n_threads <= 1) return measured;
  return measured + wall_ms * (n_threads - 1);
}

}  // namespace modelpool
