/**
 * Reads an ONNX file's structure without ONNX Runtime: its IR version, opsets, graph inputs and
 * outputs, and the bytes its weights take (in the file and in external data files). A small protobuf
 * walker reads only keys, lengths and small messages, seeking over tensor data, so inspecting a
 * multi-gigabyte model reads a few kilobytes. It is also the check that a file is ONNX before ONNX
 * Runtime parses it: garbage and truncated files are refused here with the offset of the fault.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { ModelpoolError } from '../../errors.js';

/** ONNX TensorProto.DataType names, by value (as onnxruntime-node names tensor types). */
const ELEMENT_TYPES: Readonly<Record<number, string>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16',
};

/** A graph input or output: its element type ('float32', 'int64', ...; undefined for a value that is not a tensor) and shape. */
export interface OnnxValueInfo {
  name: string;
  type: string | undefined;
  /** A number: a fixed size; a string: a symbolic dimension ('batch'); null: unknown. */
  shape: Array<number | string | null>;
}

export interface OnnxInspection {
  path: string;
  /** Size of the .onnx file. */
  fileBytes: number;
  irVersion: number;
  producer: string;
  producerVersion: string;
  opsets: Array<{ domain: string; version: number }>;
  /** Graph inputs the caller feeds (initializers listed as inputs, as IR < 4 files do, are left out). */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: number;
  initializers: number;
  /** Bytes of initializer data stored in the .onnx file. */
  initializerBytes: number;
  /** External data files the initializers name (resolved beside the model) and their sizes. */
  externalData: Array<{ path: string; bytes: number }>;
  /** initializerBytes plus the external data: what the weights take once loaded. */
  weightBytes: number;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const FIXED32 = 5;
const WINDOW = 64 * 1024;

class NotOnnx extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(reason);
  }
}

/** Reads protobuf wire data from a file through a window, seeking over what it skips. */
class FileCursor {
  #window = Buffer.alloc(0);
  #windowStart = 0;
  position = 0;

  constructor(
    readonly file: FileHandle,
    readonly size: number,
  ) {}

  async #byte(): Promise<number> {
    const at = this.position - this.#windowStart;
    if (at < 0 || at >= this.#window.length) {
      if (this.position >= this.size) throw new NotOnnx('the file ends inside a field', this.position);
      const buffer = Buffer.alloc(Math.min(WINDOW, this.size - this.position));
      const { bytesRead } = await this.file.read(buffer, 0, buffer.length, this.position);
      this.#window = buffer.subarray(0, bytesRead);
      this.#windowStart = this.position;
      if (bytesRead === 0) throw new NotOnnx('the file ends inside a field', this.position);
    }
    this.position++;
    return this.#window[this.position - 1 - this.#windowStart]!;
  }

  async varint(): Promise<number> {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = await this.#byte();
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return result;
    }
    throw new NotOnnx('a varint longer than 10 bytes', this.position);
  }

  async bytes(length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = await this.#byte();
    return out;
  }

  async string(length: number): Promise<string> {
    return (await this.bytes(length)).toString('utf8');
  }
}

/** Fields of one message, up to `end`: each key checked, and its payload's bounds. */
async function* fields(cursor: FileCursor, end: number): AsyncGenerator<{ field: number; wire: number; length: number; start: number }> {
  while (cursor.position < end) {
    const keyAt = cursor.position;
    const key = await cursor.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new NotOnnx('a field numbered 0', keyAt);
    let length: number;
    if (wire === VARINT) length = -1;
    else if (wire === FIXED64) length = 8;
    else if (wire === FIXED32) length = 4;
    else if (wire === LENGTH) length = await cursor.varint();
    else throw new NotOnnx(`a field of wire type ${wire}, which ONNX does not use`, keyAt);
    const start = cursor.position;
    if (length >= 0 && start + length > end) throw new NotOnnx(`field ${field} runs past the end of its message (the file may be truncated)`, keyAt);
    yield { field, wire, length, start };
    // Whatever the consumer did not read is skipped.
    if (wire !== VARINT) cursor.position = start + length;
    else if (cursor.position === start) await cursor.varint();
    if (cursor.position > end) throw new NotOnnx(`field ${field} runs past the end of its message`, keyAt);
  }
}

function expectWire(wire: number, expected: number, what: string, at: number): void {
  if (wire !== expected) throw new NotOnnx(`${what} has wire type ${wire}, not ${expected}`, at);
}

async function readValueInfo(cursor: FileCursor, end: number): Promise<OnnxValueInfo> {
  const info: OnnxValueInfo = { name: '', type: undefined, shape: [] };
  for await (const f of fields(cursor, end)) {
    if (f.field === 1 && f.wire === LENGTH) info.name = await cursor.string(f.length);
    else if (f.field === 2 && f.wire === LENGTH) {
      for await (const t of fields(cursor, f.start + f.length)) {
        if (t.field !== 1 || t.wire !== LENGTH) continue; // sequences, maps, optionals: not tensors
        for await (const tensor of fields(cursor, t.start + t.length)) {
          if (tensor.field === 1 && tensor.wire === VARINT) {
            const type = await cursor.varint();
            info.type = ELEMENT_TYPES[type] ?? `type ${type}`;
          } else if (tensor.field === 2 && tensor.wire === LENGTH) {
            for await (const dim of fields(cursor, tensor.start + tensor.length)) {
              if (dim.field !== 1 || dim.wire !== LENGTH) continue;
              let value: number | string | null = null;
              for await (const d of fields(cursor, dim.start + dim.length)) {
                if (d.field === 1 && d.wire === VARINT) value = await cursor.varint();
                else if (d.field === 2 && d.wire === LENGTH) value = await cursor.string(d.length);
              }
              info.shape.push(value);
            }
          }
        }
      }
    }
  }
  return info;
}

/** An initializer's name, its bytes in the file and, when stored outside, its external location and length. */
async function readInitializer(cursor: FileCursor, end: number): Promise<{ name: string; location?: string; externalLength?: number }> {
  let name = '';
  let location: string | undefined;
  let externalLength: number | undefined;
  for await (const f of fields(cursor, end)) {
    if (f.field === 8 && f.wire === LENGTH) name = await cursor.string(f.length);
    else if (f.field === 13 && f.wire === LENGTH) {
      let key = '';
      let value = '';
      for await (const e of fields(cursor, f.start + f.length)) {
        if (e.field === 1 && e.wire === LENGTH) key = await cursor.string(e.length);
        else if (e.field === 2 && e.wire === LENGTH) value = await cursor.string(e.length);
      }
      if (key === 'location') location = value;
      else if (key === 'length' && /^\d+$/.test(value)) externalLength = Number(value);
    }
  }
  return { name, ...(location === undefined ? {} : { location }), ...(externalLength === undefined ? {} : { externalLength }) };
}

/**
 * Reads the structure of the ONNX model at `path`. MODEL_NOT_FOUND when there is no file;
 * INVALID_ARGUMENT (field 'source') naming the path, the fault and its offset when it is not ONNX.
 */
export async function inspectOnnxModel(path: string): Promise<OnnxInspection> {
  const absolute = resolve(path);
  const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
    throw new ModelpoolError('MODEL_NOT_FOUND', `No ONNX model file at ${absolute}`, { field: 'source', value: path, cause: error });
  });
  if (!info.isFile()) throw new ModelpoolError('MODEL_NOT_FOUND', `${absolute} is not a file`, { field: 'source', value: path });
  const file = await open(absolute, 'r');
  try {
    return await walkModel(new FileCursor(file, info.size), absolute);
  } catch (error) {
    if (!(error instanceof NotOnnx)) throw error;
    throw new ModelpoolError('INVALID_ARGUMENT', `${absolute} is not an ONNX model: ${error.reason} (at byte ${error.offset} of ${info.size})`, {
      field: 'source',
      value: path,
      details: { path: absolute, offset: error.offset, reason: error.reason },
    });
  } finally {
    await file.close();
  }
}

async function walkModel(cursor: FileCursor, path: string): Promise<OnnxInspection> {
  const out: OnnxInspection = {
    path, fileBytes: cursor.size, irVersion: 0, producer: '', producerVersion: '', opsets: [], inputs: [], outputs: [],
    nodes: 0, initializers: 0, initializerBytes: 0, externalData: [], weightBytes: 0,
  };
  if (cursor.size === 0) throw new NotOnnx('the file is empty', 0);
  let sawGraph = false;
  const initializerNames = new Set<string>();
  const external = new Map<string, number>();
  for await (const f of fields(cursor, cursor.size)) {
    const at = f.start;
    switch (f.field) {
      case 1:
        expectWire(f.wire, VARINT, 'ir_version', at);
        out.irVersion = await cursor.varint();
        break;
      case 2:
        expectWire(f.wire, LENGTH, 'producer_name', at);
        out.producer = await cursor.string(Math.min(f.length, 256));
        break;
      case 3:
        expectWire(f.wire, LENGTH, 'producer_version', at);
        out.producerVersion = await cursor.string(Math.min(f.length, 256));
        break;
      case 7:
        expectWire(f.wire, LENGTH, 'graph', at);
        sawGraph = true;
        for await (const g of fields(cursor, f.start + f.length)) {
          if (g.field === 1 && g.wire === LENGTH) out.nodes++;
          else if (g.field === 5 && g.wire === LENGTH) {
            out.initializers++;
            const init = await readInitializer(cursor, g.start + g.length);
            initializerNames.add(init.name);
            if (init.location === undefined) out.initializerBytes += g.length;
            else external.set(init.location, (external.get(init.location) ?? 0) + (init.externalLength ?? 0));
          } else if (g.field === 15 && g.wire === LENGTH) out.initializerBytes += g.length;
          else if (g.field === 11 && g.wire === LENGTH) out.inputs.push(await readValueInfo(cursor, g.start + g.length));
          else if (g.field === 12 && g.wire === LENGTH) out.outputs.push(await readValueInfo(cursor, g.start + g.length));
        }
        break;
      case 8: {
        expectWire(f.wire, LENGTH, 'opset_import', at);
        const opset = { domain: '', version: 0 };
        for await (const o of fields(cursor, f.start + f.length)) {
          if (o.field === 1 && o.wire === LENGTH) opset.domain = await cursor.string(o.length);
          else if (o.field === 2 && o.wire === VARINT) opset.version = await cursor.varint();
        }
        out.opsets.push(opset);
        break;
      }
      default:
        break; // doc_string, metadata, functions, training info, and fields newer than this reader
    }
  }
  if (out.irVersion === 0) throw new NotOnnx('there is no ir_version', 0);
  if (!sawGraph) throw new NotOnnx('there is no graph', 0);
  out.inputs = out.inputs.filter((input) => !initializerNames.has(input.name));
  for (const [location, length] of external) {
    const file = resolve(dirname(path), location);
    // The file's size when it is there (several tensors may share one file); else the lengths they declare.
    const bytes = (await stat(file).catch(() => undefined))?.size ?? length;
    out.externalData.push({ path: file, bytes });
  }
  out.weightBytes = out.initializerBytes + out.externalData.reduce((sum, e) => sum + e.bytes, 0);
  return out;
}
