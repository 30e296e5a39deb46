/** The pool: leases on models under memory and thread budgets, loaded by a provider (in process by default). */
export { ModelPool } from './pool.js';
export { createLlamaProvider, createEngineLoader, devicesFromInfo, type EngineModule } from './loader.js';
export { isLocalModel } from '../model/handle.js';
export { MemoryCalibrator, type ArchitectureCalibration, type CalibrationSample, type MemoryKind } from './calibration.js';
export { chooseVictims, evictionCost, reuseProbability, DEFAULT_EVICTION_POLICY, type EvictionPolicy, type EvictionCandidate } from './eviction.js';
export { allocateThreads, defaultThreadBudget } from './threads.js';
export { resolveBudgets, resolveBytes, formatBytes } from './budget.js';
export type * from './types.js';
export type { SwapOptions, SwapResult } from './swap/index.js';
