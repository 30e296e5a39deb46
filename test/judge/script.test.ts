// scripts/judge-calibrate.mjs in a child process on the labelled fixture with stories260K: the
// report is produced and well formed (a 260K-parameter story model is a poor judge; how poor is not
// asserted), and bad input exits 2 with the error's message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STORIES, repoRoot } from '../helpers/models.js';

const SCRIPT = join(repoRoot, 'scripts', 'judge-calibrate.mjs');
const FIXTURE = join(repoRoot, 'test', 'fixtures', 'judge', 'labels.jsonl');

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: `${r.stderr}${r.error ?? ''}` };
}

/** Whether lib/judge is older than src/judge (the script runs the compiled package). */
function stale(): boolean {
  const src = join(repoRoot, 'src', 'judge');
  return readdirSync(src).some((name) => {
    const built = join(repoRoot, 'lib', 'judge', name.replace(/\.ts$/, '.js'));
    return !existsSync(built) || statSync(built).mtimeMs < statSync(join(src, name)).mtimeMs;
  });
}

beforeAll(() => {
  if (stale() || !existsSync(join(repoRoot, 'lib', 'engine', 'index.js'))) {
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    // tsc emits despite type errors elsewhere in the tree; what matters is that lib/judge is current.
    if (stale()) throw new Error(`tsc did not build lib/judge: ${r.stdout}${r.stderr}`);
  }
});

describe('scripts/judge-calibrate.mjs', () => {
  it('prints the calibration report as JSON', () => {
    const r = run('--model', STORIES, '--labels', FIXTURE, '--concurrency', '2', '--json', '--context', '512');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      total: number;
      n: number;
      scale: string;
      agreement: number;
      withinOne: number;
      confusion: number[][];
      classes: number[];
      spearman: number | null;
      kendallTau: number | null;
      meanAbsoluteError: number;
      failures: unknown[];
      byCriterion: Record<string, { n: number }>;
      predictions: Array<{ id: string; label: number; score?: number; failed?: boolean }>;
    };
    console.log(`stories260K on the fixture: n=${report.n}/${report.total} agreement=${report.agreement} withinOne=${report.withinOne} MAE=${report.meanAbsoluteError} spearman=${report.spearman} kendallTau=${report.kendallTau}`);
    expect(report.total).toBe(20);
    expect(report.n + report.failures.length).toBe(20);
    expect(report.scale).toBe('1-5');
    expect(report.classes).toEqual([1, 2, 3, 4, 5]);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(report.n);
    for (const share of [report.agreement, report.withinOne]) {
      expect(share).toBeGreaterThanOrEqual(0);
      expect(share).toBeLessThanOrEqual(1);
    }
    expect(report.withinOne).toBeGreaterThanOrEqual(report.agreement);
    for (const c of [report.spearman, report.kendallTau]) if (c !== null) expect(Math.abs(c)).toBeLessThanOrEqual(1);
    expect(Object.keys(report.byCriterion).sort()).toEqual(['faithfulness', 'minimality', 'relevance', 'safety']);
    expect(report.predictions).toHaveLength(20);
    const scored = report.predictions.filter((p) => p.failed !== true);
    expect(scored.length).toBe(report.n);
    // The agreement printed is the one the listed predictions give.
    expect(scored.filter((p) => p.score === p.label).length / report.n).toBeCloseTo(report.agreement, 12);
  });

  it('prints a readable report', () => {
    const r = run('--model', STORIES, '--labels', FIXTURE, '--format', 'prompt', '--context', '512');
    expect(r.status, r.stderr).toBe(0);
    console.log(r.stdout);
    expect(r.stdout).toMatch(/^Judge calibration: stories260K\.gguf on labels\.jsonl \(1-5 labels, prompt format\)/);
    expect(r.stdout).toMatch(/judged\s+\d+ of 20/);
    for (const label of ['agreement', 'within one', 'mean abs error', 'Spearman rho', 'Kendall tau-b', 'Confusion', 'By criterion']) expect(r.stdout).toContain(label);
    // a confusion row per label class
    expect(r.stdout.split('\n').filter((line) => /^ {2}[1-5] +(\d+ +){4}\d+$/.test(line))).toHaveLength(5);
    for (const criterion of ['faithfulness', 'relevance', 'minimality', 'safety']) expect(r.stdout).toMatch(new RegExp(`^  ${criterion} +\\d+ `, 'm'));
  });

  it('exits 2 with the message on bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-script-'));
    try {
      const bad = join(dir, 'bad.jsonl');
      writeFileSync(bad, '{"answer":"a","criterion":"safety","label":1}\n{"answer":"a","criterion":"safety","label":9}\n');
      const invalid = run('--model', STORIES, '--labels', bad);
      expect(invalid.status).toBe(2);
      expect(invalid.stderr).toContain('bad.jsonl:2: Expected an integer 1..5 or a boolean for label but received number 9');
      const missing = run('--model', STORIES);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain('Missing --labels');
      expect(missing.stderr).toContain('usage:');
      expect(run('--model', STORIES, '--labels', FIXTURE, '--concurrency', '0').stderr).toContain('--concurrency');
      expect(run('--model', join(dir, 'none.gguf'), '--labels', FIXTURE).status).toBe(2);
      expect(run('--model', STORIES, '--labels', FIXTURE, '--format', 'xml').status).toBe(2);
      expect(run('--bogus').status).toBe(2);
      const help = run('--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toContain('usage:');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
