// The dashboard in a real browser: Debian's Chromium driven by playwright-core, on the server over a front
// door with stories260K. It loads, its live feed updates memory, models, charts, decisions and the event
// log while requests run; a screenshot is kept as a test artifact (test-artifacts/dashboard.png); a load's
// progress shows in the models table as it happens.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/registry/index.js';
import { FrontDoor } from '../../src/runtime/index.js';
import { createServer, type ModelpoolServer } from '../../src/server/index.js';
import { STORIES, repoRoot } from '../helpers/models.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let registry: ModelRegistry;
let door: FrontDoor;
let server: ModelpoolServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (CI installs it), or set CHROMIUM_PATH`);
  registry = await ModelRegistry.open();
  await registry.registerModel({ id: 'stories', tasks: ['completion', 'chat'], version: { version: '1', source: { kind: 'gguf', path: STORIES } } });
  door = new FrontDoor({ registry, specDefaults: { contextSize: 256, parallel: 2 }, poolOptions: { threads: 1, keepAliveMs: 60_000 } });
  server = await createServer({ door, port: 0 });
  await server.listen();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await door?.dispose();
  await registry?.close();
});

describe('dashboard', () => {
  it('loads, updates live while requests run, and is captured', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) external.push(r.url());
    });
    await page.goto(`${server.url}/dashboard`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live');
    // Requests while the page watches: a load, decisions, latency and throughput points.
    for (let round = 0; round < 3; round++) {
      await Promise.all([0, 1, 2].map(() => door.complete({ model: 'stories', prompt: 'Once upon a time', maxTokens: 24, temperature: 0 })));
      await page.waitForFunction((n) => Number(document.body.dataset.snapshots ?? 0) > n, round + 1, { timeout: 5000 });
    }
    await page.waitForSelector('#models tr[data-model="stories"] td.state-ready');
    await page.waitForFunction(() => (document.getElementById('decisions')?.childElementCount ?? 0) >= 9);
    await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('loaded'));
    const memory = await page.locator('#memory .bar[data-device="CPU"] span').textContent();
    expect(memory).toMatch(/^[\d.]+ MiB of [\d.]+ MiB$/);
    expect(await page.locator('#latency canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#throughput .u-legend').textContent()).toContain('stories');
    expect(await page.locator('#cost').textContent()).toContain('stories');
    const folder = join(repoRoot, 'test-artifacts');
    mkdirSync(folder, { recursive: true });
    await page.screenshot({ path: join(folder, 'dashboard.png'), fullPage: true });
    expect(existsSync(join(folder, 'dashboard.png'))).toBe(true);
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows a load's progress as it happens", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector('#models tr[data-model="stories"]');
    // Every text the state cell of a loading model shows, however briefly.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        for (const td of document.querySelectorAll('#models td.state-loading')) seen.push(td.textContent ?? '');
      }).observe(document.getElementById('models')!, { childList: true, subtree: true });
    });
    await door.pool.unload('stories');
    await door.pool.load('stories');
    await page.waitForFunction(() => (JSON.parse(document.body.dataset.loadProgress ?? '{}') as Record<string, number>).stories === 1);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen.some((text) => /^loading \d+%$/.test(text))).toBe(true);
    await page.waitForSelector('#models tr[data-model="stories"] td.state-ready');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
