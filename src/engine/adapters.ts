/**
 * LoRA adapters of a loaded model: the checks a GGUF adapter passes before llama.cpp sees it, and the
 * Model methods that load, list and remove adapters (Model delegates to these).
 *
 * llama.cpp rejects a bad adapter with a log line and a null pointer, and asserts (aborting the
 * process) on some malformed ones, e.g. a `general.type` that is not a string. The child-process probe
 * that guards model loads does not fit here: an adapter can only be tried against a loaded base
 * model, which the child would have to load again. So the pure-TypeScript reader validates the whole
 * file (layout, data bounds) and this file checks everything llama_adapter_lora_init reads: the keys
 * and their types, the architecture, and each tensor pair against the base tensor it adapts.
 */
import { ModelpoolError, describeValue, invalidArgument } from '../errors.js';
import { nonEmptyString } from '../validate.js';
import { readGgufHeader, type GgufHeader, type GgufTensorInfo } from '../gguf/index.js';
import { type AdapterInfo } from '../model/handle.js';
import { checkedPath, fromNative } from './convert.js';
import { type Model } from './model.js';

/** Types llama.cpp's converter writes for A and B (convert_lora_to_gguf.py --outtype). */
const ADAPTER_TENSOR_TYPES = new Set(['F32', 'F16', 'BF16', 'Q8_0']);

/** What a valid adapter file holds. */
interface CheckedAdapter {
  rank: number;
  alpha: number;
  /** Base tensors it adapts. */
  tensors: number;
}

function invalidAdapter(path: string, field: string, expected: string, received: string, value: unknown): ModelpoolError {
  return new ModelpoolError('INVALID_ADAPTER', `Expected ${expected} for ${field} but received ${received} (LoRA adapter ${path})`, {
    field,
    value,
    details: { path },
  });
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** A string key llama.cpp reads with gguf_get_val_str, which asserts on any other type. */
function stringKey(header: GgufHeader, path: string, key: string, expected: string, wanted?: string): string {
  const entry = header.metadata.get(key);
  const value = entry?.value;
  if (typeof value !== 'string' || (wanted !== undefined && value !== wanted)) {
    const received = entry === undefined ? 'no value' : entry.type === 'string' ? describeValue(value) : `a ${entry.type}`;
    throw invalidAdapter(path, key, expected, received, value);
  }
  return value;
}

/** The tensors of each model's base file, read at its first adapter load: the model's own shapes. */
const baseTensors = new WeakMap<object, Promise<Map<string, GgufTensorInfo>>>();

/** Every tensor of a model file, and of the other files of a split model (llama_split_path's names). */
async function readTensors(path: string): Promise<Map<string, GgufTensorInfo>> {
  const first = await readGgufHeader(path);
  const count = first.metadata.get('split.count')?.value;
  const match = /^(.*)-\d{5}-of-\d{5}\.gguf$/.exec(path);
  const paths = typeof count === 'number' && count > 1 && match
    ? Array.from({ length: count - 1 }, (_, i) => `${match[1]}-${String(i + 2).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`)
    : [];
  const headers = [first, ...(await Promise.all(paths.map((p) => readGgufHeader(p))))];
  return new Map(headers.flatMap((h) => h.tensors.map((t) => [t.name, t] as const)));
}

function tensorsOf(model: object, path: string): Promise<Map<string, GgufTensorInfo>> {
  let pending = baseTensors.get(model);
  if (!pending) {
    pending = readTensors(path);
    baseTensors.set(model, pending);
    pending.catch(() => baseTensors.delete(model));
  }
  return pending;
}

/** Checks one lora_a/lora_b pair against the base tensor it adapts (llama-adapter.cpp's shape rules). */
function checkPair(path: string, name: string, a: GgufTensorInfo | undefined, b: GgufTensorInfo | undefined, base: GgufTensorInfo | undefined): number {
  if (a === undefined || b === undefined) {
    const missing = `${name}.${a === undefined ? 'lora_a' : 'lora_b'}`;
    throw invalidAdapter(path, missing, `a tensor beside ${name}.${a === undefined ? 'lora_b' : 'lora_a'}`, 'none', missing);
  }
  if (base === undefined) {
    throw invalidAdapter(path, a.name, `a tensor that adapts a tensor of the base model (${name} is not one)`, 'none', name);
  }
  for (const t of [a, b]) {
    if (t.shape.length !== 2) throw invalidAdapter(path, t.name, 'a 2-D tensor', shapeText(t.shape), t.shape);
    if (!ADAPTER_TENSOR_TYPES.has(t.type)) {
      throw invalidAdapter(path, t.name, `a tensor of type ${[...ADAPTER_TENSOR_TYPES].join(', ')}`, t.type, t.type);
    }
  }
  if (base.shape.length !== 2) throw invalidAdapter(path, a.name, `a tensor that adapts a 2-D base tensor (${name} is ${shapeText(base.shape)})`, 'none', name);
  const [nIn, nOut] = base.shape as [number, number];
  // token_embd's pair is stored flipped (llm_build_inp_embd): A [rank, nOut] and B [nIn, rank].
  const embedding = name.endsWith('token_embd.weight');
  const rank = embedding ? a.shape[0]! : a.shape[1]!;
  const wantA = embedding ? [rank, nOut] : [nIn, rank];
  const wantB = embedding ? [nIn, rank] : [rank, nOut];
  for (const [t, want] of [[a, wantA], [b, wantB]] as const) {
    if (t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      throw invalidAdapter(path, t.name, `shape ${shapeText(want)} (base tensor ${name} is ${shapeText(base.shape)})`, shapeText(t.shape), t.shape);
    }
  }
  return rank;
}

/**
 * Checks that the GGUF file at `path` is a LoRA adapter llama.cpp can apply to the model `base`
 * (header, keys, architecture, every tensor pair's shape against the base tensor). The base file's
 * tensor table is read once per `key` (the model).
 * Throws INVALID_GGUF for a malformed file, INVALID_ADAPTER (naming the key or tensor) for the rest.
 */
export async function checkAdapter(path: string, base: { path: string; architecture: string }, key: object = base): Promise<CheckedAdapter> {
  const header = await readGgufHeader(path);
  stringKey(header, path, 'general.type', 'string "adapter" (a LoRA adapter, not a model)', 'adapter');
  stringKey(header, path, 'adapter.type', 'string "lora"', 'lora');
  stringKey(header, path, 'general.architecture', `the base model's architecture "${base.architecture}"`, base.architecture);
  const alpha = header.metadata.get('adapter.lora.alpha');
  // llama.cpp reads it with gguf_get_val_f32, which asserts on any other type.
  if (alpha !== undefined && alpha.type !== 'float32') {
    throw invalidAdapter(path, 'adapter.lora.alpha', 'a float32', `a ${alpha.type}`, alpha.value);
  }
  const invocation = header.metadata.get('adapter.alora.invocation_tokens')?.value;
  if (invocation !== undefined && (typeof invocation !== 'object' || invocation.itemType !== 'uint32')) {
    throw invalidAdapter(path, 'adapter.alora.invocation_tokens', 'an array of uint32', describeValue(invocation), invocation);
  }
  const pairs = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  for (const tensor of header.tensors) {
    const match = /^(.+)\.lora_([ab])$/.exec(tensor.name);
    if (match === null) {
      if (tensor.name.endsWith('_norm.weight')) continue; // llama.cpp skips these
      throw invalidAdapter(path, tensor.name, 'a tensor name ending in .lora_a or .lora_b', JSON.stringify(tensor.name), tensor.name);
    }
    const pair = pairs.get(match[1]!) ?? {};
    pair[match[2] as 'a' | 'b'] = tensor;
    pairs.set(match[1]!, pair);
  }
  if (pairs.size === 0) throw invalidAdapter(path, 'tensors', 'at least one lora_a/lora_b tensor pair', 'none', header.tensors.length);
  const tensors = await tensorsOf(key, base.path);
  let rank = 0;
  for (const [name, pair] of pairs) rank = Math.max(rank, checkPair(path, name, pair.a, pair.b, tensors.get(name)));
  return { rank, alpha: typeof alpha?.value === 'number' ? alpha.value : 0, tensors: pairs.size };
}

/** Names being loaded, per model: a second load of one name is refused before either finishes. */
const loading = new WeakMap<Model, Set<string>>();

/** Model.loadAdapter: checks the file against the model, then loads it on the model's scheduler thread. */
export async function loadAdapter(model: Model, name: unknown, path: unknown): Promise<AdapterInfo> {
  const adapterName = nonEmptyString('name', name);
  const nativeModel = model.nativeModel;
  const names = loading.get(model) ?? new Set<string>();
  if (names.has(adapterName) || nativeModel.adapters().includes(adapterName)) {
    throw new ModelpoolError('ALREADY_EXISTS', `Expected a name no adapter of this model has for name but received ${describeValue(adapterName)}`, {
      field: 'name',
      value: adapterName,
    });
  }
  names.add(adapterName);
  loading.set(model, names);
  try {
    const file = await checkedPath(path);
    const checked = await checkAdapter(file.path, model.info, model);
    const loaded = await model.nativeModel.loadAdapter(adapterName, file.path).catch((error: unknown) => {
      throw fromNative(error);
    });
    return { name: loaded.name, path: loaded.path, loadMs: loaded.loadMs, rank: checked.rank, alpha: checked.alpha, tensors: checked.tensors };
  } finally {
    names.delete(adapterName);
  }
}

/** Model.removeAdapter: unknown names are INVALID_ARGUMENT naming `name`. */
export function removeAdapter(model: Model, name: unknown): void {
  const adapterName = nonEmptyString('name', name);
  const nativeModel = model.nativeModel;
  if (!nativeModel.removeAdapter(adapterName)) {
    const loaded = nativeModel.adapters();
    const expected = loaded.length > 0 ? `the name of an adapter loaded on this model (${loaded.join(', ')})` : 'the name of an adapter loaded on this model (none is)';
    throw invalidArgument('name', expected, adapterName);
  }
}
