/**
 * A saved KV state (ModelState) as bytes, for a disk store: "MPKV", a format number, a JSON header
 * (model, tokens, adapter) and llama.cpp's state data. Checked on the way back in, since the bytes may
 * come from a disk or another process.
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { plainObject } from '../validate.js';
import { type ModelState } from './types.js';

const MAGIC = 'MPKV';
const FORMAT = 1;

/** The bytes of a state: "MPKV", format, header length, JSON header (model, tokens, adapter), KV data. */
export function serializeState(state: ModelState): Uint8Array {
  const header = Buffer.from(JSON.stringify({ model: state.model, tokens: state.tokens, adapter: state.adapter }), 'utf8');
  const out = Buffer.alloc(12 + header.length + state.data.length);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(FORMAT, 4);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, 12);
  out.set(state.data, 12 + header.length);
  return out;
}

function corrupt(why: string): ModelpoolError {
  return new ModelpoolError('STATE_MISMATCH', `Expected the bytes of a modelpool state for bytes but ${why}`, { field: 'bytes' });
}

/** A state back from serializeState's bytes; STATE_MISMATCH when they are not such bytes. */
export function deserializeState(bytes: Uint8Array): ModelState {
  if (!(bytes instanceof Uint8Array)) throw invalidArgument('bytes', 'a Uint8Array', bytes);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 12 || b.toString('latin1', 0, 4) !== MAGIC) throw corrupt('received no MPKV header');
  const format = b.readUInt32LE(4);
  if (format !== FORMAT) throw corrupt(`received format ${format} (this version reads ${FORMAT})`);
  const length = b.readUInt32LE(8);
  if (12 + length > b.length) throw corrupt('received a truncated header');
  let header: unknown;
  try {
    header = JSON.parse(b.toString('utf8', 12, 12 + length));
  } catch {
    throw corrupt('received a header that is not JSON');
  }
  return checkState({ ...(header as object), data: new Uint8Array(b.subarray(12 + length)) });
}

/** Checks a state's shape (it may come from a disk or another process). */
export function checkState(value: unknown): ModelState {
  const o = plainObject('state', value);
  const model = plainObject('state.model', o.model);
  if (typeof model.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(model.fingerprint)) {
    throw invalidArgument('state.model.fingerprint', 'a SHA-256 hex digest', model.fingerprint);
  }
  if (typeof model.architecture !== 'string') throw invalidArgument('state.model.architecture', 'a string', model.architecture);
  if (!Array.isArray(o.tokens) || o.tokens.length === 0 || !o.tokens.every((t) => Number.isInteger(t) && t >= 0)) {
    throw invalidArgument('state.tokens', 'a non-empty array of token ids', o.tokens);
  }
  if (!(o.data instanceof Uint8Array) || o.data.length === 0) throw invalidArgument('state.data', 'a non-empty Uint8Array', o.data);
  let adapter: ModelState['adapter'];
  if (o.adapter !== undefined) {
    const a = plainObject('state.adapter', o.adapter);
    if (typeof a.name !== 'string' || a.name === '') throw invalidArgument('state.adapter.name', 'a non-empty string', a.name);
    if (typeof a.scale !== 'number' || !Number.isFinite(a.scale)) throw invalidArgument('state.adapter.scale', 'a finite number', a.scale);
    adapter = { name: a.name, scale: a.scale };
  }
  return {
    model: { fingerprint: model.fingerprint, architecture: model.architecture },
    tokens: o.tokens as number[],
    ...(adapter ? { adapter } : {}),
    data: o.data,
  };
}
