import { invalidArgument } from '../errors.js';
import { finiteNumber, httpUrl, integer, nonEmptyString, optionalBoolean, optionalNumber, plainObject } from '../validate.js';
import type {
  HardwareNeeds,
  LifecycleState,
  LocalModelMetadata,
  ModelInput,
  ModelPatch,
  ModelQuery,
  ModelSource,
  PerformanceWindow,
  SourceKind,
  Task,
  TransitionOptions,
  VersionInput,
  VersionPatch,
} from './types.js';

/**
 * Validation of everything that enters the registry from a caller. Each check throws
 * INVALID_ARGUMENT naming the field and the value, before anything is read or written.
 */

export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/i;
/** Aliases may also hold ':' and '/' ("stories:latest", "org/model:q4"). */
export const ALIAS_PATTERN = /^[a-z0-9][a-z0-9._:/-]{0,127}$/i;
export const VERSION_PATTERN = /^[a-z0-9][a-z0-9._+-]{0,63}$/i;
const LABEL_PATTERN = /^[a-z0-9][a-z0-9._:/=-]{0,63}$/i;

/** "a.b." for nested fields, "" at the top level, so that messages name `source.path`, not `.source.path`. */
function prefix(field: string): string {
  return field === '' ? '' : `${field}.`;
}

const SOURCE_KINDS: readonly SourceKind[] = ['gguf', 'onnx', 'ollama', 'openai-compatible', 'openai', 'anthropic'];
const STATES: readonly LifecycleState[] = ['registered', 'loading', 'ready', 'draining', 'retired', 'failed'];

export function modelId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !MODEL_ID_PATTERN.test(value)) {
    throw invalidArgument(field, `a model id matching ${MODEL_ID_PATTERN}`, value);
  }
  return value;
}

export function alias(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ALIAS_PATTERN.test(value)) {
    throw invalidArgument(field, `an alias matching ${ALIAS_PATTERN}`, value);
  }
  return value;
}

export function versionName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !VERSION_PATTERN.test(value)) {
    throw invalidArgument(field, `a version matching ${VERSION_PATTERN}`, value);
  }
  return value;
}

export function lifecycleState(field: string, value: unknown): LifecycleState {
  if (!STATES.includes(value as LifecycleState)) {
    throw invalidArgument(field, `one of ${STATES.join(', ')}`, value);
  }
  return value as LifecycleState;
}

/** A list of labels (tasks, tags): validated, de-duplicated, order kept. */
export function labels(field: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalidArgument(field, 'an array of strings', value);
  const seen = new Set<string>();
  value.forEach((item, index) => {
    if (typeof item !== 'string' || !LABEL_PATTERN.test(item)) {
      throw invalidArgument(`${field}[${index}]`, `a label matching ${LABEL_PATTERN}`, item);
    }
    seen.add(item);
  });
  return [...seen];
}

function aliasList(field: string, value: unknown, id: string): string[] {
  if (!Array.isArray(value)) throw invalidArgument(field, 'an array of strings', value);
  const seen = new Set<string>();
  value.forEach((item, index) => {
    const name = alias(`${field}[${index}]`, item);
    if (name === id) throw invalidArgument(`${field}[${index}]`, 'an alias different from the model id', item);
    seen.add(name);
  });
  return [...seen];
}


export function source(field: string, value: unknown): ModelSource {
  const object = plainObject(field || 'input', value);
  const kind = object.kind;
  switch (kind) {
    case 'gguf':
    case 'onnx':
      return { kind, path: nonEmptyString(`${prefix(field)}path`, object.path, 4096) };
    case 'ollama': {
      const result: ModelSource = { kind, model: nonEmptyString(`${prefix(field)}model`, object.model, 256) };
      if (object.baseUrl !== undefined) result.baseUrl = httpUrl(`${prefix(field)}baseUrl`, object.baseUrl);
      return result;
    }
    case 'openai-compatible':
      return { kind, baseUrl: httpUrl(`${prefix(field)}baseUrl`, object.baseUrl), model: nonEmptyString(`${prefix(field)}model`, object.model, 256) };
    case 'openai':
    case 'anthropic':
      return { kind, model: nonEmptyString(`${prefix(field)}model`, object.model, 256) };
    default:
      throw invalidArgument(`${prefix(field)}kind`, `one of ${SOURCE_KINDS.join(', ')}`, kind);
  }
}

export function isLocalSource(value: ModelSource): value is Extract<ModelSource, { path: string }> {
  return value.kind === 'gguf' || value.kind === 'onnx';
}

function optionalBytes(field: string, value: unknown): number | undefined {
  return value === undefined ? undefined : integer(field, value, 0);
}

export function hardware(field: string, value: unknown): HardwareNeeds {
  const object = plainObject(field || 'input', value);
  const result: HardwareNeeds = {};
  const minRam = optionalBytes(`${prefix(field)}minRamBytes`, object.minRamBytes);
  if (minRam !== undefined) result.minRamBytes = minRam;
  const minVram = optionalBytes(`${prefix(field)}minVramBytes`, object.minVramBytes);
  if (minVram !== undefined) result.minVramBytes = minVram;
  if (object.gpu !== undefined) {
    if (object.gpu !== 'required' && object.gpu !== 'preferred' && object.gpu !== 'none') {
      throw invalidArgument(`${prefix(field)}gpu`, "'required', 'preferred' or 'none'", object.gpu);
    }
    result.gpu = object.gpu;
  }
  if (object.backends !== undefined) result.backends = labels(`${prefix(field)}backends`, object.backends);
  if (object.cpuFeatures !== undefined) result.cpuFeatures = labels(`${prefix(field)}cpuFeatures`, object.cpuFeatures);
  return result;
}

export function metadata(field: string, value: unknown): LocalModelMetadata {
  const object = plainObject(field || 'input', value);
  const result: LocalModelMetadata = {
    format: nonEmptyString(`${prefix(field)}format`, object.format, 32),
    sizeBytes: integer(`${prefix(field)}sizeBytes`, object.sizeBytes, 0),
  };
  for (const key of ['architecture', 'name', 'quantization', 'fileType'] as const) {
    if (object[key] !== undefined) result[key] = nonEmptyString(`${prefix(field)}${key}`, object[key], 256);
  }
  for (const key of ['parameterCount', 'contextLength', 'layers', 'heads', 'kvHeads', 'embeddingSize', 'keyLength', 'valueLength', 'expertCount'] as const) {
    if (object[key] !== undefined) result[key] = integer(`${prefix(field)}${key}`, object[key], 0);
  }
  const chat = optionalBoolean(`${prefix(field)}hasChatTemplate`, object.hasChatTemplate);
  if (chat !== undefined) result.hasChatTemplate = chat;
  return result;
}

export function versionInput(field: string, value: unknown): VersionInput {
  const object = plainObject(field || 'input', value);
  const result: VersionInput = {
    version: versionName(`${prefix(field)}version`, object.version),
    source: source(`${prefix(field)}source`, object.source),
  };
  const memory = optionalBytes(`${prefix(field)}memoryEstimateBytes`, object.memoryEstimateBytes);
  if (memory !== undefined) result.memoryEstimateBytes = memory;
  if (object.contextLength !== undefined) result.contextLength = integer(`${prefix(field)}contextLength`, object.contextLength, 1);
  if (object.hardware !== undefined) result.hardware = hardware(`${prefix(field)}hardware`, object.hardware);
  const makeDefault = optionalBoolean(`${prefix(field)}makeDefault`, object.makeDefault);
  if (makeDefault !== undefined) result.makeDefault = makeDefault;
  if (object.metadata !== undefined) result.metadata = metadata(`${prefix(field)}metadata`, object.metadata);
  return result;
}

export function modelInput(field: string, value: unknown): Required<Pick<ModelInput, 'id' | 'aliases' | 'tasks' | 'tags'>> & ModelInput {
  const object = plainObject(field || 'input', value);
  const id = modelId(`${prefix(field)}id`, object.id);
  const result: Required<Pick<ModelInput, 'id' | 'aliases' | 'tasks' | 'tags'>> & ModelInput = {
    id,
    aliases: object.aliases === undefined ? [] : aliasList(`${prefix(field)}aliases`, object.aliases, id),
    tasks: object.tasks === undefined ? [] : labels(`${prefix(field)}tasks`, object.tasks),
    tags: object.tags === undefined ? [] : labels(`${prefix(field)}tags`, object.tags),
  };
  if (object.description !== undefined) result.description = nonEmptyString(`${prefix(field)}description`, object.description, 4096);
  if (object.version !== undefined) result.version = versionInput(`${prefix(field)}version`, object.version);
  return result;
}

export function modelPatch(field: string, value: unknown, id: string): ModelPatch {
  const object = plainObject(field || 'input', value);
  const result: ModelPatch = {};
  if (object.aliases !== undefined) result.aliases = aliasList(`${prefix(field)}aliases`, object.aliases, id);
  if (object.tasks !== undefined) result.tasks = labels(`${prefix(field)}tasks`, object.tasks) as Task[];
  if (object.tags !== undefined) result.tags = labels(`${prefix(field)}tags`, object.tags);
  if (object.description === null) result.description = null;
  else if (object.description !== undefined) result.description = nonEmptyString(`${prefix(field)}description`, object.description, 4096);
  if (object.defaultVersion !== undefined) result.defaultVersion = versionName(`${prefix(field)}defaultVersion`, object.defaultVersion);
  return result;
}

export function versionPatch(field: string, value: unknown): VersionPatch {
  const object = plainObject(field || 'input', value);
  const result: VersionPatch = {};
  if (object.memoryEstimateBytes === null) result.memoryEstimateBytes = null;
  else if (object.memoryEstimateBytes !== undefined) result.memoryEstimateBytes = integer(`${prefix(field)}memoryEstimateBytes`, object.memoryEstimateBytes, 0);
  if (object.contextLength === null) result.contextLength = null;
  else if (object.contextLength !== undefined) result.contextLength = integer(`${prefix(field)}contextLength`, object.contextLength, 1);
  if (object.hardware === null) result.hardware = null;
  else if (object.hardware !== undefined) result.hardware = hardware(`${prefix(field)}hardware`, object.hardware);
  return result;
}

export function query(field: string, value: unknown): ModelQuery {
  const object = plainObject(field || 'input', value);
  const result: ModelQuery = {};
  if (object.task !== undefined) result.task = labels(`${prefix(field)}task`, [object.task])[0]!;
  if (object.tasks !== undefined) result.tasks = labels(`${prefix(field)}tasks`, object.tasks);
  if (object.tags !== undefined) result.tags = labels(`${prefix(field)}tags`, object.tags);
  if (object.maxMemoryBytes !== undefined) result.maxMemoryBytes = finiteNumber(`${prefix(field)}maxMemoryBytes`, object.maxMemoryBytes, 0, Number.MAX_VALUE);
  if (object.minContextLength !== undefined) result.minContextLength = integer(`${prefix(field)}minContextLength`, object.minContextLength, 0);
  const localOnly = optionalBoolean(`${prefix(field)}localOnly`, object.localOnly);
  if (localOnly !== undefined) result.localOnly = localOnly;
  if (object.sourceKinds !== undefined) {
    if (!Array.isArray(object.sourceKinds)) throw invalidArgument(`${prefix(field)}sourceKinds`, 'an array of source kinds', object.sourceKinds);
    result.sourceKinds = object.sourceKinds.map((kind, index) => {
      if (!SOURCE_KINDS.includes(kind as SourceKind)) throw invalidArgument(`${prefix(field)}sourceKinds[${index}]`, `one of ${SOURCE_KINDS.join(', ')}`, kind);
      return kind as SourceKind;
    });
  }
  if (object.states !== undefined) {
    if (!Array.isArray(object.states)) throw invalidArgument(`${prefix(field)}states`, 'an array of lifecycle states', object.states);
    result.states = object.states.map((state, index) => lifecycleState(`${prefix(field)}states[${index}]`, state));
  }
  const deprecated = optionalBoolean(`${prefix(field)}includeDeprecated`, object.includeDeprecated);
  if (deprecated !== undefined) result.includeDeprecated = deprecated;
  if (object.versions !== undefined) {
    if (object.versions !== 'default' && object.versions !== 'all') throw invalidArgument(`${prefix(field)}versions`, "'default' or 'all'", object.versions);
    result.versions = object.versions;
  }
  if (object.limit !== undefined) result.limit = integer(`${prefix(field)}limit`, object.limit, 1);
  return result;
}

const NAMED_WINDOWS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000 };

/** Window length in milliseconds (Infinity for 'all'). */
function windowLength(field: string, value: unknown): number {
  if (value === 'all') return Number.POSITIVE_INFINITY;
  if (typeof value === 'string' && NAMED_WINDOWS[value] !== undefined) return NAMED_WINDOWS[value];
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw invalidArgument(field, "'all', '1h', '24h' or a positive number of milliseconds", value);
}

/**
 * `ModelRegistry.open` options. The store is only checked for its shape; `sqlite` is checked by
 * the SQLite store when it opens, `inspectors` when they run.
 */
export function registryOptions(field: string, value: unknown): void {
  const object = plainObject(field, value);
  const store = object.store as { writeModel?: unknown } | null | undefined;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.writeModel !== 'function')) {
    throw invalidArgument(`${field}.store`, 'a RegistryStore', store);
  }
  if (object.path !== undefined) nonEmptyString(`${field}.path`, object.path, 4096);
  if (object.refreshIntervalMs !== undefined) integer(`${field}.refreshIntervalMs`, object.refreshIntervalMs, 0);
  if (object.transitionHistoryLimit !== undefined) integer(`${field}.transitionHistoryLimit`, object.transitionHistoryLimit, 1, 10_000);
  if (object.history !== undefined) {
    const history = plainObject(`${field}.history`, object.history);
    for (const key of ['halfLifeMs', 'bucketMs', 'retentionMs', 'flushIntervalMs', 'flushBatchSize', 'priorMaxSamples'] as const) {
      optionalNumber(`${field}.history.${key}`, history[key], key === 'priorMaxSamples' ? 0 : 1, Number.MAX_SAFE_INTEGER);
    }
    optionalNumber(`${field}.history.priorWeight`, history.priorWeight, 0, 1);
    optionalNumber(`${field}.history.relativeAccuracy`, history.relativeAccuracy, 1e-6, 0.5);
  }
}


/** The window and task of a performance query (default window 'all'), with the window's length. */
export function performanceWindow(query: { task: unknown; window?: unknown }): { task: Task; window: PerformanceWindow; windowMs: number } {
  const window = query.window ?? 'all';
  const windowMs = windowLength('query.window', window);
  if (typeof query.task !== 'string') throw invalidArgument('query.task', 'a task name', query.task);
  return { task: query.task, window: window as PerformanceWindow, windowMs };
}

/** `setDeprecated`'s flag and optional reason. */
export function deprecation(deprecated: unknown, reason: unknown): { deprecated: boolean; reason: string | undefined } {
  if (typeof deprecated !== 'boolean') throw invalidArgument('deprecated', 'a boolean', deprecated);
  return { deprecated, reason: reason === undefined ? undefined : nonEmptyString('reason', reason, 1024) };
}

/** `transition`'s options: the expected current state (compare-and-set) and the reason ('' when none). */
export function transitionOptions(field: string, value: unknown): { from: LifecycleState | undefined; reason: string } {
  const object = plainObject(field, value) as TransitionOptions;
  return {
    from: object.from === undefined ? undefined : lifecycleState(`${field}.from`, object.from),
    reason: object.reason === undefined ? '' : nonEmptyString(`${field}.reason`, object.reason, 1024),
  };
}
