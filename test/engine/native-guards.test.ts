/**
 * Every raw export of the addon called wrongly: wrong argument types, missing arguments, objects of the
 * wrong class, a disposed model. Each call must throw (a TypeError with code INVALID_ARGUMENT, or a typed
 * error such as DISPOSED) and never crash. Vitest runs each file in its own forked process (pool: 'forks'),
 * so a crash here fails this file without taking the runner down; the last tests prove the process and
 * the model are still alive and correct after all the bad calls.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import { loadedBinaryPath, native } from '../../src/engine/native.js';
import { STORIES, repoRoot } from '../helpers/models.js';

type Fn = (...args: unknown[]) => unknown;
type RawObject = Record<string, Fn>;
const raw = native() as unknown as Record<string, unknown> & Record<'loadModel' | 'estimateMemory' | 'quantize' | 'deviceInfo' | 'setLogLevel', Fn>;
const Slot = raw.Slot as new (...args: unknown[]) => RawObject;

const loadParams = {
  path: STORIES,
  contextSize: 128,
  parallel: 2,
  threads: 1,
  batchThreads: 1,
  gpuLayers: 0,
  batchSize: 64,
  mmap: true,
  mlock: false,
  embeddings: false,
};
const generateParams = {
  prompt: 'Once upon a time',
  addSpecial: true,
  parseSpecial: false,
  maxTokens: 8,
  stop: [],
  temperature: 0,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
  cachePrompt: true,
  logprobs: -1,
};
const noop = () => undefined;

function thrown(call: () => unknown): Error & { code?: string } {
  try {
    call();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to throw');
}

/** Asserts a TypeError with code INVALID_ARGUMENT whose message names `name` (sharp's message shape). */
function expectArgumentError(call: () => unknown, name: string): void {
  const error = thrown(call);
  expect(error).toBeInstanceOf(TypeError);
  expect(error.code, error.message).toBe('INVALID_ARGUMENT');
  expect(error.message).toContain(`Expected `);
  expect(error.message).toContain(` for ${name} but received `);
}

function expectCodeThrown(call: () => unknown, code: string): void {
  expect(thrown(call).code).toBe(code);
}

async function load(params: Record<string, unknown> = loadParams): Promise<RawObject> {
  return (await (raw.loadModel(params) as { promise: Promise<RawObject> }).promise) as RawObject;
}

/** Completes one greedy request on a raw model; resolves with its result. */
function complete(model: RawObject): Promise<{ text: string; finishReason: string; errorCode?: string }> {
  return new Promise((resolve) => {
    model.generate!(generateParams, (kind: string, _text: string, result?: { text: string; finishReason: string }) => {
      if (kind === 'done') resolve(result!);
    });
  });
}

let model: RawObject;
let disposed: RawObject;
let embedder: RawObject;

beforeAll(async () => {
  model = await load();
  disposed = await load();
  await disposed.close!(false);
  embedder = await load({ ...loadParams, embeddings: true });
});

afterAll(async () => {
  await Promise.all([model?.close!(false), embedder?.close!(false)]);
});

describe('addon exports', () => {
  it('are exactly the ones this file guards (a new export needs its guard test here)', () => {
    expect(Object.keys(raw).sort()).toEqual(
      ['Slot', 'deviceInfo', 'errorCodes', 'estimateMemory', 'llamaVersion', 'loadModel', 'quantize', 'setLogLevel', 'shutdown'].sort(),
    );
    const methods = (o: object) => Object.getOwnPropertyNames(Object.getPrototypeOf(o)).filter((n) => n !== 'constructor').sort();
    expect(methods(model)).toEqual(
      [
        'adapters', 'applyChatTemplate', 'close', 'detokenize', 'embed', 'generate', 'info', 'loadAdapter', 'memory',
        'removeAdapter', 'restoreState', 'savePromptCache', 'setThreads', 'stats', 'tokenize', 'wake',
      ].sort(),
    );
    expect(methods(new Slot(model))).toEqual(['current', 'generate', 'generation', 'replace']);
  });

  it('errorCodes: every native code is an ErrorCode of src/errors.ts', () => {
    const nativeCodes = raw.errorCodes as string[];
    expect(nativeCodes.length).toBeGreaterThan(5);
    expect(new Set(nativeCodes).size).toBe(nativeCodes.length);
    for (const code of nativeCodes) expect(typeScriptErrorCodes(), code).toContain(code);
  });
});

describe('loadModel / estimateMemory guards', () => {
  it.each([
    ['params', []],
    ['params', [null]],
    ['params', [STORIES]],
    ['params.path', [{ ...loadParams, path: 5 }]],
    ['params.path', [{ ...loadParams, path: '' }]],
    ['params.contextSize', [{ ...loadParams, contextSize: -1 }]],
    ['params.contextSize', [{ ...loadParams, contextSize: 2 ** 40 }]],
    ['params.parallel', [{ ...loadParams, parallel: 0 }]],
    ['params.parallel', [{ ...loadParams, parallel: 257 }]],
    ['params.threads', [{ ...loadParams, threads: 1.5 }]],
    ['params.threads', [{ ...loadParams, threads: '1' }]],
    ['params.batchThreads', [{ ...loadParams, batchThreads: Number.NaN }]],
    ['params.gpuLayers', [{ ...loadParams, gpuLayers: -2 }]],
    ['params.batchSize', [{ ...loadParams, batchSize: 0 }]],
    ['params.mmap', [{ ...loadParams, mmap: 'yes' }]],
    ['params.embeddings', [{ ...loadParams, embeddings: undefined }]],
  ])('a wrong %s throws a TypeError, for both', (name, args) => {
    expectArgumentError(() => raw.loadModel(...args), name);
    expectArgumentError(() => raw.estimateMemory(...args), name);
  });

  it('loadModel: onProgress must be a function when given', () => {
    expectArgumentError(() => raw.loadModel(loadParams, 'progress'), 'onProgress');
    const handle = raw.loadModel(loadParams, undefined) as { promise: Promise<RawObject>; abort: Fn };
    handle.abort(1, 2, 3);
    return expect(handle.promise).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('quantize / setLogLevel / deviceInfo / shutdown guards', () => {
  it.each([
    ['input', []],
    ['input', [1, 'out.gguf', 2, 1]],
    ['output', ['in.gguf', '', 2, 1]],
    ['ftype', ['in.gguf', 'out.gguf', 'q8_0', 1]],
    ['ftype', ['in.gguf', 'out.gguf', -1, 1]],
    ['threads', ['in.gguf', 'out.gguf', 7]],
  ])('quantize: a wrong %s throws a TypeError', (name, args) => {
    expectArgumentError(() => raw.quantize(...args), name);
  });

  it('setLogLevel takes a ggml log level', () => {
    expectArgumentError(() => raw.setLogLevel(), 'level');
    expectArgumentError(() => raw.setLogLevel('debug'), 'level');
    expectArgumentError(() => raw.setLogLevel(99), 'level');
    expect(raw.setLogLevel(5)).toBeUndefined();
  });

  it('deviceInfo ignores extra arguments', () => {
    expect((raw.deviceInfo(1, 'x') as { backends: string[] }).backends).toContain('CPU');
  });

  it('shutdown (in a child process: it stops every model) ignores arguments and leaves a live process', () => {
    const script = `const a = require(${JSON.stringify(loadedBinaryPath())}); a.shutdown(1, 'x'); a.shutdown(); console.log('alive');`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout.trim()).toBe('alive');
  });
});

describe('Model guards', () => {
  it('cannot be constructed from JavaScript', () => {
    const Model = model.constructor as unknown as new (...args: unknown[]) => unknown;
    expect(thrown(() => new Model())).toBeInstanceOf(TypeError);
    expect(thrown(() => new Model({}))).toBeInstanceOf(TypeError);
    expect(thrown(() => (Model as unknown as Fn)())).toBeInstanceOf(TypeError);
  });

  it('methods called on another object throw a TypeError', () => {
    const slot = new Slot(model);
    for (const name of ['info', 'tokenize', 'generate', 'close']) {
      expect(thrown(() => model[name]!.call(slot)), name).toBeInstanceOf(TypeError);
      expect(thrown(() => model[name]!.call({})), name).toBeInstanceOf(TypeError);
    }
    expect(thrown(() => slot.generate!.call(model, generateParams, noop))).toBeInstanceOf(TypeError);
  });

  it.each([
    ['tokenize', 'text', []],
    ['tokenize', 'text', [1, true, false]],
    ['tokenize', 'addSpecial', ['x']],
    ['tokenize', 'parseSpecial', ['x', true, 'no']],
    ['detokenize', 'tokens', []],
    ['detokenize', 'tokens', [[1, 2]]],
    ['detokenize', 'tokens', [new Float32Array(2)]],
    ['applyChatTemplate', 'messages', ['hi', true]],
    ['applyChatTemplate', 'messages[0]', [['hi'], true]],
    ['applyChatTemplate', 'messages[0].content', [[{ role: 'user' }], true]],
    ['applyChatTemplate', 'addAssistant', [[{ role: 'user', content: 'hi' }]]],
    ['generate', 'options', []],
    ['generate', 'callback', [generateParams]],
    ['generate', 'deferWake', [generateParams, noop, 'yes']],
    ['generate', 'options.prompt', [{ ...generateParams, prompt: undefined }, noop]],
    ['generate', 'options.addSpecial', [{ ...generateParams, addSpecial: 1 }, noop]],
    ['generate', 'options.maxTokens', [{ ...generateParams, maxTokens: 0 }, noop]],
    ['generate', 'options.stop', [{ ...generateParams, stop: 'END' }, noop]],
    ['generate', 'options.stop[1]', [{ ...generateParams, stop: ['a', ''] }, noop]],
    ['generate', 'options.temperature', [{ ...generateParams, temperature: 'hot' }, noop]],
    ['generate', 'options.temperature', [{ ...generateParams, temperature: Infinity }, noop]],
    ['generate', 'options.topK', [{ ...generateParams, topK: undefined }, noop]],
    ['generate', 'options.topP', [{ ...generateParams, topP: 2 }, noop]],
    ['generate', 'options.minP', [{ ...generateParams, minP: -1 }, noop]],
    ['generate', 'options.repeatLastN', [{ ...generateParams, repeatLastN: -1 }, noop]],
    ['generate', 'options.presencePenalty', [{ ...generateParams, presencePenalty: null }, noop]],
    ['generate', 'options.seed', [{ ...generateParams, seed: -1 }, noop]],
    ['generate', 'options.jsonSchema', [{ ...generateParams, jsonSchema: { type: 'object' } }, noop]],
    ['generate', 'options.grammar', [{ ...generateParams, grammar: 5 }, noop]],
    ['generate', 'options.cachePrompt', [{ ...generateParams, cachePrompt: undefined }, noop]],
    ['generate', 'options.logprobs', [{ ...generateParams, logprobs: 21 }, noop]],
    ['generate', 'options.adapter', [{ ...generateParams, adapter: 7 }, noop]],
    ['generate', 'options.promptTokens', [{ ...generateParams, promptTokens: [1, 2] }, noop]],
    ['generate', 'options.continuationTokens', [{ ...generateParams, continuationTokens: 'x' }, noop]],
    ['generate', 'options.saveState', [{ ...generateParams, saveState: 'yes' }, noop]],
    ['loadAdapter', 'name', []],
    ['loadAdapter', 'name', ['', 'a.gguf']],
    ['loadAdapter', 'path', ['a', 5]],
    ['removeAdapter', 'name', []],
    ['removeAdapter', 'name', [3]],
    ['savePromptCache', 'minTokens', []],
    ['savePromptCache', 'minTokens', [0]],
    ['restoreState', 'state', []],
    ['restoreState', 'state', ['x']],
    ['restoreState', 'state.tokens', [{ tokens: [1], data: new Uint8Array(8) }]],
    ['restoreState', 'state.data', [{ tokens: Int32Array.of(1), data: [1, 2] }]],
    ['restoreState', 'state.adapter', [{ tokens: Int32Array.of(1), data: new Uint8Array(8), adapter: 5 }]],
    ['restoreState', 'state.adapterScale', [{ tokens: Int32Array.of(1), data: new Uint8Array(8), adapter: 'a', adapterScale: 'x' }]],
    ['embed', 'texts', []],
    ['embed', 'callback', [['hi']]],
    ['setThreads', 'threads', []],
    ['setThreads', 'threads', [0, 1]],
    ['setThreads', 'batchThreads', [1, '2']],
    ['close', 'abort', ['yes']],
  ])('%s: a wrong %s throws a TypeError', (method, name, args) => {
    expectArgumentError(() => model[method]!(...args), name);
  });

  it('embed: a wrong text throws a TypeError on a model loaded for embeddings', () => {
    expectArgumentError(() => embedder.embed!([1], noop), 'texts[0]');
    expectArgumentError(() => embedder.embed!(['a', {}], noop), 'texts[1]');
  });

  it('wrong values of the right type are typed errors', () => {
    expectCodeThrown(() => model.detokenize!(Int32Array.of(-1)), 'INVALID_ARGUMENT');
    expectCodeThrown(() => model.generate!({ ...generateParams, prompt: '' , addSpecial: false }, noop), 'INVALID_ARGUMENT');
    expectCodeThrown(() => model.generate!({ ...generateParams, prompt: 'word '.repeat(500) }, noop), 'CONTEXT_OVERFLOW');
    expectCodeThrown(() => model.generate!({ ...generateParams, jsonSchema: '{' }, noop), 'INVALID_SCHEMA');
    expectCodeThrown(() => model.generate!({ ...generateParams, grammar: 'root ::= (' }, noop), 'INVALID_ARGUMENT');
    expectCodeThrown(() => model.embed!(['hi'], noop), 'INVALID_ARGUMENT');
    expectCodeThrown(() => embedder.generate!(generateParams, noop), 'INVALID_ARGUMENT');
  });

  it('wake and stats ignore extra arguments; the request handle ignores abort() arguments', async () => {
    expect(model.wake!(1, 2)).toBeUndefined();
    expect((model.stats!('x') as { closed: boolean }).closed).toBe(false);
    const handle = model.generate!({ ...generateParams, maxTokens: 100_000 }, noop) as { abort: Fn };
    expect(handle.abort('now', 1)).toBeUndefined();
  });
});

describe('a disposed model', () => {
  it.each([
    ['info', []],
    ['memory', []],
    ['tokenize', ['hi', true, false]],
    ['detokenize', [Int32Array.of(1)]],
    ['applyChatTemplate', [[{ role: 'user', content: 'hi' }], true]],
    ['generate', [generateParams, noop]],
    ['embed', [['hi'], noop]],
    ['setThreads', [1, 1]],
    ['loadAdapter', ['a', 'a.gguf']],
    ['removeAdapter', ['a']],
    ['adapters', []],
    ['savePromptCache', [32]],
    ['restoreState', [{ tokens: Int32Array.of(1), data: new Uint8Array(8) }]],
  ])('%s throws DISPOSED', (method, args) => {
    const error = thrown(() => disposed[method]!(...args));
    expect(error.code, error.message).toBe('DISPOSED');
  });

  it('wake is a no-op, stats say closed, close resolves again', async () => {
    expect(disposed.wake!()).toBeUndefined();
    expect((disposed.stats!() as { closed: boolean }).closed).toBe(true);
    await expect(disposed.close!(true)).resolves.toBeUndefined();
  });

  it('a Slot refuses it', () => {
    expectCodeThrown(() => new Slot(disposed), 'DISPOSED');
    expectCodeThrown(() => new Slot(model).replace!(disposed), 'DISPOSED');
  });
});

describe('Slot guards', () => {
  it('takes only a Model', () => {
    expectArgumentError(() => new Slot(), 'model');
    expectArgumentError(() => new Slot({}), 'model');
    expectArgumentError(() => new Slot(new Slot(model)), 'model');
    expect(thrown(() => (Slot as unknown as Fn)(model))).toBeInstanceOf(TypeError);
    const slot = new Slot(model);
    expectArgumentError(() => slot.replace!(), 'model');
    expectArgumentError(() => slot.replace!(embedder.constructor), 'model');
    expectArgumentError(() => slot.generate!(), 'options');
    expectArgumentError(() => slot.generate!(generateParams, 'cb'), 'callback');
    expect(slot.generation!('x')).toBe(1);
    expect(slot.current!(1)).toBe(model);
  });
});

describe('after every bad call', () => {
  it('the process is alive and the model generates as before', async () => {
    const result = await complete(model);
    expect(result.errorCode).toBeUndefined();
    expect(result.finishReason).toBe('length');
    expect(result.text.length).toBeGreaterThan(0);
    expect(await complete(model)).toEqual(expect.objectContaining({ text: result.text }));
  });
});

/**
 * The codes of ErrorCode in src/errors.ts: its runtime list when it exports one (ERROR_CODES), otherwise
 * the members of the `ErrorCode` union read from the source.
 */
function typeScriptErrorCodes(): string[] {
  const list = (errors as Record<string, unknown>).ERROR_CODES;
  if (Array.isArray(list)) return list as string[];
  const source = readFileSync(join(repoRoot, 'src', 'errors.ts'), 'utf8');
  const union = /export type ErrorCode\s*=([^;]*);/.exec(source)?.[1] ?? '';
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!);
}
