// The CLI's local commands in plain `node` processes on the built package, with a registry in a temporary
// data folder: discover (a folder of GGUFs), eval (a task suite, its score recorded as the model's quality),
// bench, judge (the calibration command), --help everywhere and exit codes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, STORIES } from '../helpers/models.js';

let home: string;
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(repoRoot, 'lib', 'cli', 'main.js'), ...args], { env: { ...process.env, MODELPOOL_HOME: home }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'modelpool-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('modelpool CLI', () => {
  it('discovers the GGUFs of a folder into the registry', () => {
    const folder = join(home, 'models');
    mkdirSync(folder, { recursive: true });
    copyFileSync(STORIES, join(folder, 'tiny-stories.gguf'));
    writeFileSync(join(folder, 'broken.gguf'), 'not a gguf');
    const r = cli('discover', '--dir', folder, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { registered: string[]; skipped: Array<{ path: string }> };
    expect(report.registered.some((id) => id.includes('tiny-stories'))).toBe(true);
    expect(report.skipped.some((s) => s.path.endsWith('broken.gguf'))).toBe(true);
    expect(JSON.parse(cli('ls', '--json').out).length).toBeGreaterThan(0);
  });

  it('evaluates a suite on a model and records its quality; benches it', () => {
    const id = (JSON.parse(cli('ls', '--json').out) as Array<{ id: string }>)[0]!.id;
    const suite = join(home, 'suite.jsonl');
    writeFileSync(
      suite,
      [
        { id: 'a', prompt: 'Once upon a time', maxTokens: 8, grader: { type: 'regex', pattern: '\\w+' }, tags: ['story'] },
        { id: 'b', prompt: 'Once upon a time', maxTokens: 8, grader: { type: 'exact', expected: 'nope' }, tags: ['story'] },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
    const r = cli('eval', suite, id, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { meanScore: number; passRate: number; items: Array<{ id: string; pass: boolean }> };
    expect(report.items.map((i) => i.pass)).toEqual([true, false]);
    expect(report.passRate).toBe(0.5);
    const b = cli('bench', id, '--requests', '5', '--max-tokens', '8', '--json');
    expect(b.code).toBe(0);
    expect((JSON.parse(b.out) as { wallMs: { p50: number } }).wallMs.p50).toBeGreaterThan(0);
    const bad = cli('eval', join(home, 'none.jsonl'), id);
    expect(bad.code).toBe(1);
  });

  it('calibrates a judge, and has --help everywhere', () => {
    const r = cli('judge', STORIES, join(repoRoot, 'test', 'fixtures', 'judge', 'labels.jsonl'), '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toHaveProperty('agreement');
    for (const command of ['quantize', 'serve', 'ps', 'load', 'unload', 'swap', 'ls', 'add', 'rm', 'run', 'discover', 'eval', 'judge', 'bench', 'inspect', 'estimate', 'devices', 'demo']) {
      const help = cli(command, '--help');
      expect(help.code, command).toBe(0);
      expect(help.out, command).toContain(`Usage: modelpool ${command}`);
    }
    expect(cli('nonsense').code).toBe(2);
    const inspect = cli('inspect', STORIES, '--context', '512', '--json');
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.out)).toMatchObject({ architecture: 'llama', estimate: { contextSize: 512 } });
    expect((JSON.parse(inspect.out) as { estimate: { total: number } }).estimate.total).toBeGreaterThan(0);
    const q8 = join(home, 'stories.Q8_0.gguf');
    const quantized = cli('quantize', STORIES, q8, 'Q8_0', '--json');
    expect(quantized.code).toBe(0);
    expect((JSON.parse(quantized.out) as { outputBytes: number; inputBytes: number }).outputBytes).toBeLessThan((JSON.parse(quantized.out) as { inputBytes: number }).inputBytes);
    expect(cli('quantize', STORIES, q8, 'Q9_9').code).toBe(1);
    const missing = cli('inspect', join(home, 'none.gguf'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('MODEL_NOT_FOUND');
  });
});
