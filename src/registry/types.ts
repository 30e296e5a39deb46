/**
 * Public types of the model registry (src/registry). The pool, the selector and the server code
 * against these and against {@link ModelRegistry}; nothing outside src/registry sees store rows.
 */
import type { Task } from '../telemetry/index.js';

/** Performance types live in src/telemetry; the registry's public types keep naming them. */
export type { DecayedMeans, MetricSummary, PerformanceSample, PerformanceSummary, PerformanceTotals, PerformanceWindow, PriorInfo, Task } from '../telemetry/index.js';

/** Where a version's weights live: a local file, or a remote provider's model. */
export type ModelSource =
  | { kind: 'gguf'; path: string }
  | { kind: 'onnx'; path: string }
  | { kind: 'ollama'; model: string; baseUrl?: string }
  | { kind: 'openai-compatible'; baseUrl: string; model: string }
  | { kind: 'openai'; model: string }
  | { kind: 'anthropic'; model: string };

export type SourceKind = ModelSource['kind'];
export type LocalSourceKind = 'gguf' | 'onnx';

/**
 * Lifecycle of one version. Legal moves (see lifecycle.ts):
 * registered → loading | retired; loading → ready | failed | registered (load cancelled);
 * ready → draining | failed; draining → retired | registered (unloaded, still available) | ready (rollback);
 * failed → loading (retry) | retired; retired → loading (reactivate, e.g. to roll back to it).
 */
export type LifecycleState = 'registered' | 'loading' | 'ready' | 'draining' | 'retired' | 'failed';

/** Metadata read from a local model file (for GGUF: the engine's `inspect`, trimmed). */
export interface LocalModelMetadata {
  format: 'gguf' | 'onnx' | (string & {});
  sizeBytes: number;
  architecture?: string;
  name?: string;
  parameterCount?: number;
  /** Most common tensor type by bytes ("F32", "Q4_0", ...). */
  quantization?: string;
  /** `general.file_type` as a name ("Q4_K_M", ...). */
  fileType?: string;
  contextLength?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  embeddingSize?: number;
  keyLength?: number;
  valueLength?: number;
  expertCount?: number;
  hasChatTemplate?: boolean;
}

/** What a version needs from the machine. All optional; the pool decides what to do with them. */
export interface HardwareNeeds {
  minRamBytes?: number;
  minVramBytes?: number;
  gpu?: 'required' | 'preferred' | 'none';
  /** Backends that can run it, e.g. ["CUDA", "Metal"]. */
  backends?: string[];
  /** CPU features it needs, e.g. ["AVX2"]. */
  cpuFeatures?: string[];
}

export interface TransitionRecord {
  from: LifecycleState;
  to: LifecycleState;
  /** Epoch milliseconds. */
  at: number;
  reason: string;
}

/** One version of a model, as the registry serves it (frozen; a new object after every change). */
export interface ModelVersion {
  readonly modelId: string;
  readonly version: string;
  /** Registration order within the model (1, 2, ...); the "previous version" is the one before. */
  readonly ordinal: number;
  readonly source: Readonly<ModelSource>;
  /** True for gguf/onnx files run in this process. */
  readonly local: boolean;
  readonly metadata?: Readonly<LocalModelMetadata>;
  /** Declared memory estimate in bytes, as registered or updated. */
  readonly memoryEstimateBytes?: number;
  /**
   * Best known memory need in bytes: the declared estimate, else the file size for local files,
   * else 0 for remote models (they use no local memory).
   */
  readonly memoryBytes: number | undefined;
  /** Declared context length, else the file's trained context length. */
  readonly contextLength: number | undefined;
  readonly hardware?: Readonly<HardwareNeeds>;
  readonly state: LifecycleState;
  readonly deprecated: boolean;
  readonly deprecationReason?: string;
  /** The most recent transitions, oldest first (at most `transitionHistoryLimit`). */
  readonly transitions: readonly TransitionRecord[];
  /** Number of transitions ever made (the store keeps them all). */
  readonly transitionCount: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RegisteredModel {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly tasks: readonly Task[];
  readonly tags: readonly string[];
  readonly description?: string;
  readonly defaultVersion?: string;
  /** In registration order. */
  readonly versions: readonly ModelVersion[];
  /** Bumped by every committed change of this model; used for optimistic concurrency. */
  readonly revision: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ResolvedModel {
  readonly model: RegisteredModel;
  readonly version: ModelVersion;
}

export interface VersionInput {
  version: string;
  source: ModelSource;
  memoryEstimateBytes?: number;
  /** For remote models (or to override the file's trained context). */
  contextLength?: number;
  hardware?: HardwareNeeds;
  /** Make it the model's default version (the first version always is). */
  makeDefault?: boolean;
  /**
   * Metadata already read from the file (discovery passes it to avoid a second read). When absent,
   * local sources are inspected.
   */
  metadata?: LocalModelMetadata;
}

export interface ModelInput {
  id: string;
  aliases?: string[];
  tasks?: Task[];
  tags?: string[];
  description?: string;
  /** First version, registered in the same transaction. */
  version?: VersionInput;
}

export interface ModelPatch {
  /** Replaces the alias list. */
  aliases?: string[];
  tasks?: Task[];
  tags?: string[];
  /** `null` clears it. */
  description?: string | null;
  defaultVersion?: string;
}

export interface VersionPatch {
  /** `null` clears it. */
  memoryEstimateBytes?: number | null;
  /** `null` clears it. */
  contextLength?: number | null;
  /** `null` clears it. */
  hardware?: HardwareNeeds | null;
}

export interface TransitionOptions {
  reason?: string;
  /** Compare-and-set: refuse with ILLEGAL_TRANSITION unless the version is in this state now. */
  from?: LifecycleState;
}

export interface ModelQuery {
  /** Models that have this task/capability. */
  task?: Task;
  /** Models that have all of these tasks. */
  tasks?: Task[];
  /** Models that have all of these tags. */
  tags?: string[];
  /** Versions whose best known memory need is at most this (unknown need does not match). */
  maxMemoryBytes?: number;
  /** Versions whose context length is at least this (unknown length does not match). */
  minContextLength?: number;
  /** Only gguf/onnx versions. */
  localOnly?: boolean;
  sourceKinds?: SourceKind[];
  /** Default: every state but retired and failed. */
  states?: LifecycleState[];
  /** Default false. */
  includeDeprecated?: boolean;
  /** 'default' (the default): each model's default version only; 'all': every matching version. */
  versions?: 'default' | 'all';
  limit?: number;
}

/** Where a change came from: this registry, or another registry on the same store (another process). */
export type ChangeOrigin = 'local' | 'external';

export interface RegisteredEvent {
  origin: ChangeOrigin;
  model: RegisteredModel;
  /** Absent when the event is about the model itself. */
  version?: ModelVersion;
}

export interface UpdatedEvent {
  origin: ChangeOrigin;
  model: RegisteredModel;
}

export interface TransitionEvent extends TransitionRecord {
  origin: ChangeOrigin;
  modelId: string;
  version: string;
}

export interface RemovedEvent {
  origin: ChangeOrigin;
  modelId: string;
  /** Absent when the whole model was removed. */
  version?: string;
}

/** Typed events of {@link ModelRegistry}. */
export interface RegistryEvents {
  registered: [RegisteredEvent];
  updated: [UpdatedEvent];
  transition: [TransitionEvent];
  removed: [RemovedEvent];
  /** A background flush of performance samples failed; the samples are kept for the next try. */
  flushFailed: [Error];
  /** A background refresh from the store failed; reads keep serving the last good view. */
  refreshFailed: [Error];
}
