// CPU time of the threads that compute for one model, for honest per-request cost.
//
// A request's CPU figure must count only the work done for it, not the whole process (other models
// decode on their own threads at the same time). A model computes on its scheduler thread plus, when
// it uses more than one thread, the worker threads ggml's CPU backend runs beside it: in OpenMP
// builds (gcc/Linux, MSVC/Windows) that is the OpenMP team of the scheduler thread, which the OpenMP
// runtime keeps per calling thread, so one model's team is not another's.
//
// Thread-safety: every function reads clocks of the calling thread (and its own OpenMP team); call
// them only on the thread that calls llama_decode for the model.
#pragma once

namespace modelpool {

// CPU time used so far by the calling thread, ms.
double ThreadCpuMs();

// CPU time used so far by the compute team of the calling thread for `n_threads` threads, ms:
// the calling thread plus the n_threads - 1 OpenMP workers ggml uses for it. Without OpenMP the
// workers' time is not separable and only the calling thread is counted (see ComputeCpuMeasured).
double ComputeTeamCpuMs(int n_threads);

// True when ComputeTeamCpuMs measures the worker threads (OpenMP builds). Otherwise the caller
// estimates workers as busy for the whole compute (ggml's own threadpool polls while a graph runs).
bool ComputeCpuMeasured();

// CPU ms the model's compute threads spent on one llama_decode/llama_encode that took `wall_ms`:
// measured on the team where the build allows it, else the calling thread's own time plus the
// workers counted busy for the whole call.
double StepCpuMs(double cpu_before, double cpu_after, double wall_ms, int n_threads);

}  // namespace modelpool
