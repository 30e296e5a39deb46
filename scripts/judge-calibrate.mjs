#!/usr/bin/env node
// Calibrates a GGUF model as a judge against a labelled set (JSON Lines, see docs/api.md "Judge"):
//
//   node scripts/judge-calibrate.mjs --model PATH.gguf --labels FILE.jsonl [--concurrency N] [--json]
//        [--format auto|prompt|chat] [--context N] [--max-tokens N]
//
// Runs from the compiled package (npm run build first). Prints a readable report, or with --json the
// report as JSON. Exit 0 on success, 2 on bad input (with the error's message), 1 on any other failure.
// Example: node scripts/judge-calibrate.mjs --model ../shared/models/stories260K.gguf \
//            --labels test/fixtures/judge/labels.jsonl
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const lib = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib');
const USAGE =
  'usage: node scripts/judge-calibrate.mjs --model PATH.gguf --labels FILE.jsonl [--concurrency N] [--json]\n' +
  '       [--format auto|prompt|chat] [--context N] [--max-tokens N]';
/** Errors that mean the input was wrong, not the run. */
const BAD_INPUT = new Set(['INVALID_ARGUMENT', 'INVALID_DATA', 'MODEL_NOT_FOUND', 'INVALID_GGUF', 'UNSUPPORTED_ARCHITECTURE', 'CONTEXT_TOO_LARGE']);

class UsageError extends Error {}

function positiveInteger(name, text) {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`Expected a positive integer for --${name} but received ${JSON.stringify(text)}`);
  return value;
}

function readOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        labels: { type: 'string' },
        concurrency: { type: 'string' },
        json: { type: 'boolean', default: false },
        format: { type: 'string', default: 'auto' },
        context: { type: 'string' },
        'max-tokens': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (v.model === undefined) throw new UsageError('Missing --model PATH.gguf');
  if (v.labels === undefined) throw new UsageError('Missing --labels FILE.jsonl');
  if (!['auto', 'prompt', 'chat'].includes(v.format)) throw new UsageError(`Expected auto, prompt or chat for --format but received ${JSON.stringify(v.format)}`);
  if (!existsSync(v.labels)) throw new UsageError(`Labels file not found: ${v.labels}`);
  if (!existsSync(v.model)) throw new UsageError(`Model file not found: ${v.model}`);
  return {
    model: v.model,
    labels: v.labels,
    concurrency: positiveInteger('concurrency', v.concurrency) ?? 4,
    json: v.json,
    format: v.format,
    context: positiveInteger('context', v.context),
    maxTokens: positiveInteger('max-tokens', v['max-tokens']),
  };
}

const pct = (x) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const num = (x, digits = 3) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
/** A correlation, or why there is none (a constant variable: every prediction, or every label, the same). */
const correlation = (x) => (x === null ? 'n/a (no variation in labels or predictions)' : num(x));

/** The readable report. */
function format(report, options, ms) {
  const lines = [];
  lines.push(`Judge calibration: ${basename(options.model)} on ${basename(options.labels)} (${report.scale} labels, ${options.format} format)`);
  lines.push(`  judged          ${report.n} of ${report.total} (${report.failures.length} failed) in ${(ms / 1000).toFixed(1)} s`);
  lines.push(`  agreement       ${pct(report.agreement)}`);
  if (report.scale === '1-5') lines.push(`  within one      ${pct(report.withinOne)}`);
  lines.push(`  mean abs error  ${num(report.meanAbsoluteError)}`);
  lines.push(`  Spearman rho    ${correlation(report.spearman)}`);
  lines.push(`  Kendall tau-b   ${correlation(report.kendallTau)}`);
  lines.push('Confusion (rows: label, columns: prediction)');
  const width = Math.max(5, ...report.classes.map((c) => String(c).length + 1));
  lines.push(`  ${'label'.padEnd(6)}${report.classes.map((c) => String(c).padStart(width)).join('')}`);
  report.confusion.forEach((row, i) => lines.push(`  ${String(report.classes[i]).padEnd(6)}${row.map((x) => String(x).padStart(width)).join('')}`));
  lines.push('By criterion');
  lines.push(`  ${'criterion'.padEnd(14)}${'n'.padStart(4)}${'agree'.padStart(8)}${'within1'.padStart(9)}${'MAE'.padStart(7)}${'rho'.padStart(8)}${'tau-b'.padStart(8)}`);
  for (const [criterion, s] of Object.entries(report.byCriterion)) {
    lines.push(
      `  ${criterion.padEnd(14)}${String(s.n).padStart(4)}${pct(s.agreement).padStart(8)}${(s.withinOne === undefined ? '-' : pct(s.withinOne)).padStart(9)}` +
        `${num(s.meanAbsoluteError, 2).padStart(7)}${num(s.spearman, 2).padStart(8)}${num(s.kendallTau, 2).padStart(8)}`,
    );
  }
  if (report.failures.length > 0) {
    lines.push('Failures');
    for (const f of report.failures) lines.push(`  #${f.index + 1}${f.id === undefined ? '' : ` (${f.id})`} ${f.code}: ${f.message}`);
  }
  return lines.join('\n');
}

async function main() {
  const options = readOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (!existsSync(join(lib, 'judge', 'index.js'))) throw new Error(`${join(lib, 'judge', 'index.js')} is missing: run npm run build first`);
  const { Judge, calibrate, modelRunner, parseLabels } = await import(pathToFileURL(join(lib, 'judge', 'index.js')).href);
  const { loadModel } = await import(pathToFileURL(join(lib, 'engine', 'index.js')).href);
  const labelled = parseLabels(readFileSync(options.labels, 'utf8'), basename(options.labels));
  const model = await loadModel(options.model, {
    ...(options.context === undefined ? {} : { contextSize: options.context }),
    parallel: Math.min(options.concurrency, 8),
  });
  try {
    const judge = new Judge({ run: modelRunner(model), format: options.format, concurrency: options.concurrency, ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }) });
    const started = performance.now();
    const report = await calibrate(judge, labelled, { concurrency: options.concurrency });
    const ms = performance.now() - started;
    if (options.json) {
      const predictions = report.predictions.map((p, i) => ({ id: labelled[i].id, label: labelled[i].label, ...(p === undefined ? { failed: true } : { score: p.score, rationale: p.rationale }) }));
      console.log(JSON.stringify({ model: options.model, labels: options.labels, format: options.format, ms: Math.round(ms), ...report, predictions }, null, 2));
    } else {
      console.log(format(report, options, ms));
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const bad = error instanceof UsageError || BAD_INPUT.has(error?.code);
    console.error(`judge-calibrate: ${error?.message ?? error}`);
    if (error instanceof UsageError) console.error(USAGE);
    process.exitCode = bad ? 2 : 1;
  },
);
