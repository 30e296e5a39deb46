/**
 * The model contract (src/model): one suite of checks, run on every provider — the llama provider on
 * the real stories260K model; the OpenAI-compatible provider against llama.cpp's own llama-server; the
 * OpenAI, Anthropic and Ollama providers through their official SDKs against loopback servers speaking
 * each wire format, stories260K answering behind them; the ONNX provider on a generated embedding model
 * (its checks of generation become checks of embeddings); and the fake provider with local models,
 * models that are not local, and chat-only models.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelpoolError } from '../../src/errors.js';
import { isLocalModel, type GenerateRequest, type GenerationResult, type ModelCapabilities, type ModelHandle, type ModelRef, type Provider, type ProviderLoadOptions } from '../../src/model/index.js';
import { createLlamaProvider } from '../../src/pool/loader.js';
import { loadModel } from '../../src/engine/index.js';
import { createAnthropicProvider, createOllamaProvider, createOpenAICompatibleProvider, createOpenAIProvider } from '../../src/providers/index.js';
import { generateOnnxTestModel, startWireServer, type WireProtocol } from '../../src/testing/index.js';
import { createOnnxProvider } from '../../src/providers/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeProvider } from '../../src/testing/fake-provider.js';
import { expectCode } from '../helpers/expect.js';
import { startLlamaServer, type LlamaServer } from '../helpers/llama-server.js';
import { STORIES, collect } from '../helpers/models.js';

interface Loadable {
  spec: ModelRef;
  options: ProviderLoadOptions;
}

interface Subject {
  name: string;
  provider: Provider;
  /** The model the checks run on (it generates or chats). */
  model: Loadable;
  /** Models whose capabilities differ from `model`'s (an embedding model, ...): declared capabilities are checked on them too. */
  others: Loadable[];
  /** Whether its models have the local extension. */
  local: boolean;
  /** maxTokens for a request that runs long enough to be aborted or to be in flight during dispose(). */
  longTokens: number;
  /** Starts what the provider talks to (a server) before the models load; its stop after they are disposed. */
  start?: () => Promise<() => Promise<void>>;
  /** Its models only embed (ONNX embedding models): the checks of generation are replaced by embeddings'. */
  embedOnly?: boolean;
}

/** llama-server serving stories260K to generate, and a second one serving it for embeddings. */
function llamaServers(generate: Loadable, embed: Loadable): () => Promise<() => Promise<void>> {
  return async () => {
    const servers: LlamaServer[] = await Promise.all([
      startLlamaServer({ model: STORIES, alias: 'stories' }),
      // One slot: with two, llama-server embeds identical inputs of one batch differently (the first slot's differs).
      startLlamaServer({ model: STORIES, alias: 'stories-embed', embeddings: true, parallel: 1 }),
    ]);
    generate.spec.endpoint = `${servers[0]!.url}/v1`;
    embed.spec.endpoint = `${servers[1]!.url}/v1`;
    return async () => {
      await Promise.all(servers.map((s) => s.stop()));
    };
  };
}

/**
 * A loopback server speaking a vendor's exact wire protocol (modelpool/testing), answered by stories260K in
 * this process: 'stories' generates, 'stories-embed' embeds.
 */
function wire(protocol: WireProtocol, generate: Loadable, embed?: Loadable): () => Promise<() => Promise<void>> {
  return async () => {
    const models = {
      stories: await loadModel(STORIES, { threads: 1, contextSize: 512, parallel: 2, probe: 'never' }),
      'stories-embed': await loadModel(STORIES, { threads: 1, contextSize: 256, embeddings: true, probe: 'never' }),
    };
    const server = await startWireServer({ protocol, model: (name) => models[name as keyof typeof models], models: Object.keys(models), apiKey: 'sk-contract-0123456789', requestDefaults: { temperature: 0 } });
    const base = protocol === 'openai' ? `${server.url}/v1` : server.url;
    generate.spec.endpoint = base;
    if (embed !== undefined) embed.spec.endpoint = base;
    return async () => {
      await server.close();
      await Promise.all(Object.values(models).map((m) => m.dispose()));
    };
  };
}

function wireSubject(name: string, protocol: WireProtocol, provider: Provider, embeds: boolean): Subject {
  const model: Loadable = { spec: { id: 'stories', source: 'stories' }, options: { threads: 1, parallel: 2 } };
  const embed: Loadable = { spec: { id: 'stories-embed', source: 'stories-embed' }, options: { threads: 1, embeddings: true } };
  return { name, provider, model, others: embeds ? [embed] : [], local: false, longTokens: 200, start: wire(protocol, model, embeds ? embed : undefined) };
}

const KEY = 'sk-contract-0123456789';

const onnxModel: Loadable = { spec: { id: 'minilm', source: '(generated)' }, options: { threads: 1, parallel: 2 } };

/** A tiny ONNX embedding model in a BERT export's shape (with its tokenizer.json), made by the project's generator. */
async function onnxStart(): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'modelpool-contract-onnx-'));
  const generated = await generateOnnxTestModel({ outDir: dir, layer: true });
  onnxModel.spec.source = generated.modelPath;
  return async () => rmSync(dir, { recursive: true, force: true });
}

const llamaServerModel: Loadable = { spec: { id: 'stories', source: 'stories' }, options: { threads: 1, parallel: 2 } };
const llamaServerEmbed: Loadable = { spec: { id: 'stories-embed', source: 'stories-embed' }, options: { threads: 1, embeddings: true } };

const llamaOptions: ProviderLoadOptions = { threads: 1, contextSize: 256, parallel: 2, probe: 'never' };
const fakeConfig = { tokenMs: 5, text: ' Once there was a little fake model that told stories.' };

const subjects: Subject[] = [
  {
    name: 'llama provider (stories260K)',
    provider: createLlamaProvider(),
    model: { spec: { id: 'stories', source: STORIES }, options: llamaOptions },
    others: [{ spec: { id: 'stories-embed', source: STORIES }, options: { ...llamaOptions, embeddings: true } }],
    local: true,
    longTokens: 200,
  },
  {
    name: 'fake provider, local models',
    provider: new FakeProvider({ m: fakeConfig, plain: { capabilities: { streaming: false, embed: false } } }),
    model: { spec: { id: 'm', source: 'm' }, options: { threads: 1 } },
    others: [{ spec: { id: 'plain', source: 'plain' }, options: { threads: 1 } }],
    local: true,
    longTokens: 8,
  },
  {
    name: 'fake provider, models that are not local',
    provider: new FakeProvider({ m: fakeConfig }, { local: false }),
    model: { spec: { id: 'm', source: 'm' }, options: { threads: 1, parallel: 4 } },
    others: [],
    local: false,
    longTokens: 8,
  },
  {
    name: 'openai-compatible provider (llama.cpp llama-server serving stories260K)',
    provider: createOpenAICompatibleProvider({ capabilities: { grammar: true }, retry: { maxRetries: 0 } }),
    model: llamaServerModel,
    others: [llamaServerEmbed],
    local: false,
    longTokens: 200,
    start: llamaServers(llamaServerModel, llamaServerEmbed),
  },
  wireSubject('openai provider (OpenAI wire protocol on loopback, stories260K behind it)', 'openai', createOpenAIProvider({ apiKey: KEY, retry: { maxRetries: 0 } }), true),
  wireSubject('anthropic provider (Anthropic wire protocol on loopback, stories260K behind it)', 'anthropic', createAnthropicProvider({ apiKey: KEY, retry: { maxRetries: 0 } }), false),
  wireSubject('ollama provider (Ollama wire protocol on loopback, stories260K behind it)', 'ollama', createOllamaProvider({ retry: { maxRetries: 0 } }), true),
  {
    name: 'onnx provider (a generated BERT-shaped embedding model)',
    provider: createOnnxProvider(),
    model: onnxModel,
    others: [],
    local: true,
    longTokens: 0,
    start: onnxStart,
    embedOnly: true,
  },
  {
    name: 'fake provider, chat-only models that are not local',
    provider: new FakeProvider({ chat: { ...fakeConfig, capabilities: { generate: false, embed: false, jsonSchema: true } } }, { local: false, name: 'chat-api' }),
    model: { spec: { id: 'chat', source: 'chat' }, options: { threads: 1 } },
    others: [],
    local: false,
    longTokens: 8,
  },
];

const CAPABILITIES: ReadonlyArray<keyof ModelCapabilities> = ['generate', 'chat', 'embed', 'jsonSchema', 'grammar', 'streaming'];

/** A greedy request the model accepts: a prompt, or the same as a chat when it only chats. */
function request(model: ModelHandle, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  const input = model.capabilities.generate ? { prompt: 'Once upon a time' } : { messages: [{ role: 'user', content: 'Once upon a time' }] };
  return { ...input, temperature: 0, seed: 1, maxTokens: 16, ...extra };
}

/** A request that uses exactly one capability, and is otherwise what the model accepts. */
function using(model: ModelHandle, capability: 'generate' | 'chat' | 'jsonSchema' | 'grammar'): GenerateRequest {
  switch (capability) {
    case 'generate':
      return { prompt: 'Once', maxTokens: 4, temperature: 0 };
    case 'chat':
      return { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 4, temperature: 0 };
    case 'jsonSchema':
      return request(model, { jsonSchema: { type: 'object', properties: { a: { type: 'string' } } }, maxTokens: 8 });
    case 'grammar':
      return request(model, { grammar: 'root ::= ("yes" | "no")', maxTokens: 4 });
  }
}

for (const subject of subjects) {
  describe(`model contract: ${subject.name}`, () => {
    const load = (what: Loadable = subject.model): Promise<ModelHandle> => subject.provider.load(what.spec, what.options);
    let model: ModelHandle;
    let all: ModelHandle[];

    let stop: (() => Promise<void>) | undefined;
    /** A request that runs long enough to be in flight during dispose(): the model's own promise. */
    const work = (m: ModelHandle): Promise<Float32Array[] | GenerationResult> =>
      subject.embedOnly ? m.embed(Array.from({ length: 64 }, (_, i) => `once upon a time there was a story number ${i}`)) : m.complete(request(m, { maxTokens: subject.longTokens }));
    const size = (out: Float32Array[] | GenerationResult): number => (Array.isArray(out) ? out.length : out.text.length);

    beforeAll(async () => {
      stop = await subject.start?.();
      model = await load();
      all = [model, ...(await Promise.all(subject.others.map((o) => load(o))))];
    });
    afterAll(async () => {
      await Promise.all((all ?? []).map((m) => m.dispose()));
      await stop?.();
    });

    it('the provider names itself, estimates and loads', async () => {
      expect(typeof subject.provider.name).toBe('string');
      expect(subject.provider.name.length).toBeGreaterThan(0);
      const estimate = await subject.provider.estimate(subject.model.spec, {});
      expect(typeof estimate.architecture).toBe('string');
      expect(estimate.memory.total).toBeGreaterThanOrEqual(0);
      expect(Array.isArray(estimate.memory.devices)).toBe(true);
      await expectCode(subject.provider.load(subject.model.spec, { ...subject.model.options, signal: AbortSignal.abort() }), 'ABORTED');
    });

    it('declares its capabilities, its info and its state', () => {
      for (const m of all) {
        for (const key of CAPABILITIES) expect(typeof m.capabilities[key], key).toBe('boolean');
        expect(m.local).toBe(subject.local);
        expect(isLocalModel(m)).toBe(subject.local);
        expect(Number.isInteger(m.info.contextSize) && m.info.contextSize >= 0).toBe(true);
        expect(Number.isInteger(m.info.parallel) && m.info.parallel >= 1).toBe(true);
        expect(m.loadMs).toBeGreaterThanOrEqual(0);
        expect(m.activeRequests).toBe(0);
        expect(m.disposed).toBe(false);
      }
      if (subject.embedOnly) expect(model.capabilities.embed && !model.capabilities.generate && !model.capabilities.chat).toBe(true);
      else expect(model.capabilities.generate || model.capabilities.chat).toBe(true);
    });

    it('honours what it declares: a declared capability works, an undeclared one is INVALID_ARGUMENT', async () => {
      for (const m of all) {
        for (const capability of ['generate', 'chat', 'jsonSchema', 'grammar'] as const) {
          const req = using(m, capability);
          if (m.capabilities[capability] && (m.capabilities.generate || m.capabilities.chat)) {
            expect(typeof (await m.complete(req)).text, capability).toBe('string');
          } else {
            await expectCode(() => m.generate(req), 'INVALID_ARGUMENT');
            await expectCode(m.complete(req), 'INVALID_ARGUMENT');
          }
        }
        if (m.capabilities.embed) {
          const [a, b, again] = await m.embed(['Once upon a time', 'a cat', 'Once upon a time']);
          expect(a).toBeInstanceOf(Float32Array);
          expect(a!.length).toBeGreaterThan(0);
          expect(b!.length).toBe(a!.length);
          expect([...again!]).toEqual([...a!]);
        } else {
          await expectCode(m.embed(['Once upon a time']), 'INVALID_ARGUMENT');
        }
      }
    });

    it('refuses bad requests synchronously', async () => {
      await expectCode(() => model.generate({ maxTokens: 4 }), 'INVALID_ARGUMENT');
      await expectCode(() => model.generate({ ...request(model), prompt: 'x', messages: [{ role: 'user', content: 'x' }] }), 'INVALID_ARGUMENT');
      // A model that only embeds refuses generation for that first.
      const aborted = subject.embedOnly ? 'INVALID_ARGUMENT' : 'ABORTED';
      await expectCode(() => model.generate(request(model, { signal: AbortSignal.abort() })), aborted);
      await expectCode(model.complete(request(model, { signal: AbortSignal.abort() })), aborted);
    });

    it.runIf(!subject.embedOnly)('generate() streams chunks that add up to the text complete() gives', async () => {
      const { chunks, result } = await collect(model.generate(request(model)));
      const streamed = result as { text: string; generatedTokens: number; finishReason: string };
      expect(chunks.join('')).toBe(streamed.text);
      expect(streamed.generatedTokens).toBeGreaterThan(0);
      expect(['stop', 'length', 'eos']).toContain(streamed.finishReason);
      if (!model.capabilities.streaming) expect(chunks.length).toBeLessThanOrEqual(1);
      const completed = await model.complete(request(model));
      expect(completed.text).toBe(streamed.text);
      expect(completed.generatedTokens).toBe(streamed.generatedTokens);
      expect(model.activeRequests).toBe(0);
    });

    it.runIf(!subject.embedOnly)('an abort through the signal ends the request with ABORTED and its partial result', async () => {
      const controller = new AbortController();
      const stream = model.generate(request(model, { maxTokens: subject.longTokens, signal: controller.signal }));
      expect(model.activeRequests).toBe(1);
      const seen: string[] = [];
      const iterated = (async () => {
        for await (const chunk of stream) {
          seen.push(chunk);
          controller.abort();
        }
      })();
      if (!model.capabilities.streaming) setTimeout(() => controller.abort(), 5);
      const error = await expectCode(stream.result, 'ABORTED');
      await expectCode(iterated, 'ABORTED');
      expect((error.details as { finishReason?: string }).finishReason).toBe('abort');
      // The partial text holds at least what was streamed.
      expect(String((error.details as { partialText?: string }).partialText).startsWith(seen.join(''))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(model.activeRequests).toBe(0);
    });

    it('dispose() waits for requests in flight, is idempotent, and every call after it is DISPOSED', async () => {
      const m = await load();
      const pending = work(m);
      let settled = false;
      void pending.then(() => (settled = true));
      const first = m.dispose();
      const second = m.dispose();
      expect(m.disposed).toBe(true);
      await expectCode(() => m.generate(request(m)), 'DISPOSED');
      await Promise.all([first, second]);
      expect(settled).toBe(true);
      expect(size(await pending)).toBeGreaterThan(0);
      expect(m.activeRequests).toBe(0);
      await m.dispose();
      await m[Symbol.asyncDispose]();
      await expectCode(() => m.generate(request(m)), 'DISPOSED');
      await expectCode(m.complete(request(m)), 'DISPOSED');
      await expectCode(m.embed(['x']), 'DISPOSED');
      if (isLocalModel(m)) {
        await expectCode(() => m.setThreads(1), 'DISPOSED');
        await expectCode(() => m.tokenize('x'), 'DISPOSED');
      }
    });

    it('dispose({ abort: true }) ends requests in flight with ABORTED', async () => {
      const m = await load();
      // Its outcome is taken at once: the abort may reject it while dispose() runs.
      const pending = work(m).then(
        (result) => result,
        (error: ModelpoolError) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 1));
      await m.dispose({ abort: true });
      const outcome = await pending;
      // A request that finished before the abort reached it is not cut short.
      if (outcome instanceof Error) expect((outcome as ModelpoolError).code).toBe('ABORTED');
      else if (!Array.isArray(outcome)) expect(outcome.finishReason).not.toBe('abort');
      expect(m.activeRequests).toBe(0);
    });

    it.runIf(subject.local)('has the local extension: memory, threads, tokenizer, chat template', () => {
      if (!isLocalModel(model)) throw new Error('not local');
      expect(model.memory.total).toBeGreaterThan(0);
      expect(model.memory.devices.length).toBeGreaterThan(0);
      expect(model.threads).toBeGreaterThanOrEqual(1);
      model.setThreads(1);
      expect(model.threads).toBe(1);
      const tokens = model.tokenize('Once upon a time');
      expect(tokens.length).toBeGreaterThan(0);
      expect(tokens.every((t) => Number.isInteger(t))).toBe(true);
      expect(typeof model.detokenize(tokens)).toBe('string');
      if (subject.embedOnly) expect(() => model.applyChatTemplate([{ role: 'user', content: 'Hello there' }])).toThrow();
      else expect(model.applyChatTemplate([{ role: 'user', content: 'Hello there' }])).toContain('Hello there');
    });

    it.runIf(!subject.local)('has none of the local powers', () => {
      for (const key of ['memory', 'threads', 'setThreads', 'tokenize', 'detokenize', 'applyChatTemplate']) expect(key in model, key).toBe(false);
    });
  });
}
