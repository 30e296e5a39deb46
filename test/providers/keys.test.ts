// API keys of remote providers from the encrypted key store: a provider reads its key at each load, so a
// key changed in the store applies to the next load, and a store whose master key was rotated still serves
// it. The file never holds the key in plain text. Stories260K answers behind a loopback OpenAI server.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../src/engine/index.js';
import { createOpenAIProvider } from '../../src/providers/index.js';
import { KeyStore, Secret } from '../../src/security/index.js';
import { startWireServer, type WireServer } from '../../src/testing/index.js';
import { expectCode } from '../helpers/expect.js';
import { STORIES } from '../helpers/models.js';

const OLD_KEY = 'sk-keystore-old-111111111111';
const NEW_KEY = 'sk-keystore-new-222222222222';
const REQUEST = { prompt: 'Once upon a time', maxTokens: 4, temperature: 0 };

let model: Model;
let folder: string;
const servers: WireServer[] = [];

beforeAll(async () => {
  model = await loadModel(STORIES, { threads: 1, contextSize: 256, probe: 'never' });
  folder = mkdtempSync(join(tmpdir(), 'modelpool-keys-'));
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await model.dispose();
  rmSync(folder, { recursive: true, force: true });
});

describe('provider keys from the key store', () => {
  it('a key set or rotated in the store applies to the next load; the file holds no key', async () => {
    const path = join(folder, 'keys.json');
    const store = await KeyStore.open(path, { passphrase: Secret.from('correct horse battery staple'), scryptN: 2 ** 14 });
    await store.set('openai', OLD_KEY);
    const server = await startWireServer({ protocol: 'openai', model, models: ['stories'], apiKey: OLD_KEY });
    servers.push(server);
    const provider = createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: () => store.get('openai'), retry: { maxRetries: 0 } });
    const first = await provider.load({ id: 'm', source: 'stories' }, { threads: 1 });
    expect((await first.complete(REQUEST)).text.length).toBeGreaterThan(0);

    // The vendor's key is rotated: the server takes only the new one, the store gets it.
    const rotated = await startWireServer({ protocol: 'openai', model, models: ['stories'], apiKey: NEW_KEY, port: 0 });
    servers.push(rotated);
    const onRotated = createOpenAIProvider({ baseUrl: `${rotated.url}/v1`, apiKey: () => store.get('openai'), retry: { maxRetries: 0 }, verify: false });
    const stale = await onRotated.load({ id: 'm', source: 'stories' }, { threads: 1 });
    await expectCode(stale.complete(REQUEST), 'UNAUTHORIZED');
    await store.set('openai', NEW_KEY);
    const fresh = await onRotated.load({ id: 'm', source: 'stories' }, { threads: 1 });
    expect((await fresh.complete(REQUEST)).text.length).toBeGreaterThan(0);

    // The store's own master key is rotated: reopened with the new passphrase, it still serves the key.
    await store.rotate({ passphrase: Secret.from('a new and longer passphrase'), scryptN: 2 ** 14 });
    const reopened = await KeyStore.open(path, { passphrase: Secret.from('a new and longer passphrase') });
    expect(reopened.get('openai')?.reveal()).toBe(NEW_KEY);
    await expectCode(KeyStore.open(path, { passphrase: Secret.from('correct horse battery staple') }), 'DECRYPTION_FAILED');
    const bytes = readFileSync(path);
    for (const key of [OLD_KEY, NEW_KEY]) {
      expect(bytes.includes(key)).toBe(false);
      expect(bytes.includes(Buffer.from(key).toString('base64'))).toBe(false);
    }
    for (const m of [first, stale, fresh]) await m.dispose();
  });
});
