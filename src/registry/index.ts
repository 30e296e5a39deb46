/**
 * The model registry: models, versions and their lifecycle, queries, persistence (SQLite or
 * memory, behind {@link RegistryStore}), performance history and discovery of local models.
 */
export { ModelRegistry, type DiscoveryReport, type PerformanceQuery, type RegistryOptions } from './registry.js';
export { LEGAL_TRANSITIONS, IN_USE_STATES, canTransition } from './lifecycle.js';
export { ALIAS_PATTERN, MODEL_ID_PATTERN, VERSION_PATTERN } from './input.js';
export { MemoryRegistryStore } from './store/memory.js';
export type {
  LoadOptions,
  ModelDocument,
  ModelRow,
  ModelWrite,
  PerfBucketRow,
  PerfFlush,
  PerfFlushKey,
  PerfFlushResult,
  PerfKey,
  PerfStatsRow,
  PerformanceStore,
  RegistryStore,
  StoreChanges,
  StoreCursor,
  StoreSnapshot,
  StoredTransition,
  VersionRow,
  WriteResult,
} from './store/store.js';
export { SqliteRegistryStore, type SqliteStoreOptions } from './store/sqlite.js';
export { MIGRATIONS, APPLICATION_ID } from './store/sqlite-schema.js';
export { QuantileSketch, type HistoryOptions, type RecordedSample } from '../telemetry/index.js';
export { fileSizeInspector, fromGgufInspection, ggufInspector, type GgufInspect, type SourceInspector } from './inspectors.js';
export { defaultDiscoveryPaths, scanForModels, type DiscoveredFile, type DiscoveryOptions, type DiscoveryOrigin, type DiscoverySkip, type ScanResult } from './discovery/scan.js';
export type * from './types.js';
