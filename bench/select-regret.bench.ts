/**
 * Selection quality on a replayed trace (issue 10). bench/fixtures/selection-trace.jsonl (made by
 * make-selection-trace.mjs from a fixed seed) holds 3,000 requests and the outcome each of five models
 * would have had on each: the best model differs by context (prompt length × chat/code), one is bad
 * everywhere, quality is noisy. Replayed with Thompson sampling per context, Thompson sampling with one
 * posterior per model, greedy (posterior means, per context), and every model fixed, each request's
 * utility is the selector's own score of the realized outcome:
 *
 *   u = quality − 0.1 · log10(1 + latency ms) − 0.05 · log10(cost $ + 1e-6)
 *
 * Reported: cumulative regret against the per-request oracle (the best realized utility) and against the
 * best fixed model (which the learning policy must beat: negative regret by the end), the share of picks
 * that went to the per-context best model per window (convergence), and, as RouterBench reports routers,
 * the cost-quality plane: each model a point, the router a curve over its cost weight, AIQ the area under
 * each one's non-decreasing convex hull. And RouterBench's baseline router: k nearest neighbours over the
 * request's features (log prompt length, tags), trained on the first 600 requests with every model's outcome
 * known (full information, which the selector never has: it sees only the outcome of what it picked), compared
 * with the selector on the other 2,400. Curves go to bench/results/selection-regret.png, numbers to
 * bench/results/selection-regret-<time>.json.
 *
 *   npx vitest run --config bench/vitest.bench.config.ts bench/select-regret.bench.ts
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { Selector, type Candidate, type Objective, type SelectorOptions } from '../src/select/index.js';
import { Raster, lineChart, type Rgb, type Series } from './lib/png.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OBJECTIVE: Required<Objective> = { quality: 1, latency: 0.1, cost: 0.05, memory: 0 };
const WINDOW = 150;
const SEEDS = [1, 2, 3, 4, 5];
const COST_WEIGHTS = [0, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.5, 1];

interface Header {
  models: Candidate[];
  contexts: string[];
  truth: Record<string, Record<string, { quality: number; latencyMs: number; costUsd: number }>>;
}
interface TraceRequest {
  task: string;
  promptTokens: number;
  tags: string[];
  context: string;
  quality: number[];
  latencyMs: number[];
  costUsd: number[];
  success: boolean[];
}

function load(): { header: Header; requests: TraceRequest[] } {
  const lines = readFileSync(join(root, 'bench', 'fixtures', 'selection-trace.jsonl'), 'utf8').trim().split('\n');
  return { header: JSON.parse(lines[0]!) as Header, requests: lines.slice(1).map((line) => JSON.parse(line) as TraceRequest) };
}

const utility = (quality: number, latencyMs: number, costUsd: number, objective = OBJECTIVE): number =>
  objective.quality * quality - objective.latency * Math.log10(1 + latencyMs) - objective.cost * Math.log10(costUsd + 1e-6);

interface Run {
  name: string;
  /** Index of the model picked per request. */
  picks: number[];
  /** Utility per request. */
  utilities: number[];
  meanQuality: number;
  meanLatencyMs: number;
  meanCostUsd: number;
}

/** Replays the trace with a policy: a selector (learning from each outcome) or a fixed model index. */
function replay(name: string, requests: readonly TraceRequest[], models: readonly Candidate[], policy: SelectorOptions | number, objective = OBJECTIVE): Run {
  const selector = typeof policy === 'number' ? undefined : new Selector({ objective, ...policy });
  const picks: number[] = [];
  const utilities: number[] = [];
  let quality = 0;
  let latency = 0;
  let cost = 0;
  for (const request of requests) {
    const context = { promptTokens: request.promptTokens, tags: request.tags };
    let pick = policy as number;
    if (selector !== undefined) {
      const selection = selector.select({ task: request.task, context }, models);
      pick = models.findIndex((m) => m.modelId === selection.modelId);
    }
    const outcome = { quality: request.quality[pick]!, latencyMs: request.latencyMs[pick]!, costUsd: request.costUsd[pick]!, success: request.success[pick]! };
    selector?.observe({ modelId: models[pick]!.modelId, version: models[pick]!.version, task: request.task, context, ...outcome });
    picks.push(pick);
    utilities.push(utility(outcome.quality, outcome.latencyMs, outcome.costUsd));
    quality += outcome.quality;
    latency += outcome.latencyMs;
    cost += outcome.costUsd;
  }
  const n = requests.length;
  return { name, picks, utilities, meanQuality: quality / n, meanLatencyMs: latency / n, meanCostUsd: cost / n };
}

/** Σ (reference − run) utilities, cumulative per request. */
function cumulativeRegret(run: Run, reference: readonly number[]): number[] {
  let sum = 0;
  return run.utilities.map((u, i) => (sum += reference[i]! - u));
}

/**
 * AIQ (RouterBench): the area under the non-decreasing upper convex hull of (cost, quality) points over
 * [low, high], divided by the range. The hull is flat beyond its last point and starts at its cheapest.
 */
function aiq(points: ReadonlyArray<readonly [number, number]>, low: number, high: number): number {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const hull: Array<readonly [number, number]> = [];
  for (const point of sorted) {
    if (hull.length > 0 && point[1] <= hull[hull.length - 1]![1]) continue; // non-decreasing: dominated
    while (hull.length >= 2) {
      const [a, b] = [hull[hull.length - 2]!, hull[hull.length - 1]!];
      // Drop b when it lies on or under the segment a → point (keep the hull concave).
      if ((b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0]) >= 0) hull.pop();
      else break;
    }
    hull.push(point);
  }
  let area = 0;
  const at = (cost: number): number => {
    if (cost <= hull[0]![0]) return hull[0]![1];
    for (let i = 1; i < hull.length; i++) {
      const [a, b] = [hull[i - 1]!, hull[i]!];
      if (cost <= b[0]) return a[1] + ((cost - a[0]) / (b[0] - a[0])) * (b[1] - a[1]);
    }
    return hull[hull.length - 1]![1];
  };
  const steps = 2000;
  for (let i = 0; i < steps; i++) area += at(low + ((i + 0.5) / steps) * (high - low));
  return area / steps;
}

/** Requests the KNN baseline trains on (every model's outcome known); the rest evaluate it. */
const KNN_TRAIN = 600;
const KNN_K = 10;

/**
 * RouterBench's KNN router: per request, the `k` nearest training requests by (log2 prompt length over its
 * spread, tags one-hot), and the model with the best mean utility on them. Picks for `requests[from..]`.
 */
function knnPicks(requests: readonly TraceRequest[], from: number, models: number, score: (r: TraceRequest, m: number) => number, k = KNN_K): number[] {
  const tags = [...new Set(requests.flatMap((r) => r.tags))].sort();
  const lengths = requests.slice(0, from).map((r) => Math.log2(1 + r.promptTokens));
  const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  const sd = Math.sqrt(lengths.reduce((a, b) => a + (b - mean) ** 2, 0) / lengths.length) || 1;
  const features = (r: TraceRequest) => [(Math.log2(1 + r.promptTokens) - mean) / sd, ...tags.map((t) => (r.tags.includes(t) ? 1 : 0))];
  const train = requests.slice(0, from).map((r) => ({ x: features(r), scores: Array.from({ length: models }, (_, m) => score(r, m)) }));
  return requests.slice(from).map((r) => {
    const x = features(r);
    const nearest = train
      .map((t) => ({ t, d: t.x.reduce((sum, v, i) => sum + (v - x[i]!) ** 2, 0) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, k);
    const means = Array.from({ length: models }, (_, m) => nearest.reduce((sum, n) => sum + n.t.scores[m]!, 0) / nearest.length);
    return means.indexOf(Math.max(...means));
  });
}

const PALETTE: Rgb[] = [
  [214, 39, 40],
  [31, 119, 180],
  [44, 160, 44],
  [148, 103, 189],
  [140, 86, 75],
  [255, 127, 14],
  [127, 127, 127],
  [23, 190, 207],
];

it('select: regret on a replayed trace against the oracle and the best fixed model', () => {
  const { header, requests } = load();
  const models = header.models;
  const n = requests.length;
  const realized = requests.map((r) => models.map((_, m) => utility(r.quality[m]!, r.latencyMs[m]!, r.costUsd[m]!)));
  const oracle = realized.map((u) => Math.max(...u));
  // The best model of each context by the true means, and the best fixed model by realized utility.
  const contextBest = new Map(header.contexts.map((context) => {
    const scores = models.map((m) => { const t = header.truth[m.modelId]![context]!; return utility(t.quality, t.latencyMs, t.costUsd); });
    return [context, scores.indexOf(Math.max(...scores))] as const;
  }));
  const fixed = models.map((m, index) => replay(`fixed ${m.modelId}`, requests, models, index));
  const bestFixed = fixed.reduce((a, b) => (b.utilities.reduce((x, y) => x + y, 0) > a.utilities.reduce((x, y) => x + y, 0) ? b : a));
  const learners: Array<[string, SelectorOptions]> = [
    ['thompson, contextual', {}],
    ['thompson, one context', { contextual: false }],
    ['greedy, contextual', { exploration: 'greedy' }],
  ];
  const runs = learners.map(([name, options]) => replay(name, requests, models, { seed: SEEDS[0]!, ...options }));
  const all = [...runs, ...fixed];

  const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const share = (run: Run, from: number, to: number) => {
    let hits = 0;
    for (let i = from; i < to; i++) if (run.picks[i] === contextBest.get(requests[i]!.context)) hits++;
    return hits / (to - from);
  };
  const rows = all.map((run) => ({
    policy: run.name,
    meanUtility: sum(run.utilities) / n,
    regretVsOracle: sum(oracle) - sum(run.utilities),
    regretVsBestFixed: sum(bestFixed.utilities) - sum(run.utilities),
    contextBestShareLast500: share(run, n - 500, n),
    meanQuality: run.meanQuality,
    meanLatencyMs: run.meanLatencyMs,
    meanCostUsd: run.meanCostUsd,
  }));
  // Robustness: the learners' final regret against the best fixed model over several seeds.
  const seeds = learners.map(([name, options]) => {
    const regrets = SEEDS.map((seed) => sum(bestFixed.utilities) - sum(replay(name, requests, models, { seed, ...options }).utilities));
    return { policy: name, regrets, mean: sum(regrets) / regrets.length, worst: Math.max(...regrets) };
  });
  // The cost-quality plane: models as points, the contextual router over its cost weight (no latency term).
  const sweep = COST_WEIGHTS.map((cost) => {
    const objective = { quality: 1, latency: 0, cost, memory: 0 };
    const run = replay(`cost ${cost}`, requests, models, { seed: SEEDS[0]! }, objective);
    return { costWeight: cost, meanCostUsd: run.meanCostUsd, meanQuality: run.meanQuality };
  });
  const modelPoints = fixed.map((run) => [run.meanCostUsd, run.meanQuality] as const);
  const routerPoints = sweep.map((p) => [p.meanCostUsd, p.meanQuality] as const);
  // The quality oracle: per request the best quality, the cheaper model on ties.
  const oracleQuality = sum(requests.map((r) => Math.max(...r.quality))) / n;
  const costs = [...modelPoints, ...routerPoints].map((p) => p[0]);
  const [low, high] = [Math.min(...costs), Math.max(...costs)];
  const plane = { aiqRouter: aiq(routerPoints, low, high), aiqModels: aiq(modelPoints, low, high), aiqRouterAndModels: aiq([...routerPoints, ...modelPoints], low, high), oracleQuality, costRange: [low, high] };

  // RouterBench's KNN baseline, trained with full information on the first KNN_TRAIN requests, against the
  // selector on the rest (the selector having learned online from request 1, from its own picks only).
  const evaluated = requests.slice(KNN_TRAIN);
  const tail = (run: { picks: readonly number[] }) => {
    const picks = run.picks.slice(KNN_TRAIN);
    const at = (i: number) => KNN_TRAIN + i;
    return {
      utility: sum(picks.map((m, i) => realized[at(i)]![m]!)),
      quality: sum(picks.map((m, i) => requests[at(i)]!.quality[m]!)) / picks.length,
      cost: sum(picks.map((m, i) => requests[at(i)]!.costUsd[m]!)) / picks.length,
      share: picks.filter((m, i) => m === contextBest.get(requests[at(i)]!.context)).length / picks.length,
    };
  };
  const knn = { picks: [...new Array<number>(KNN_TRAIN).fill(-1), ...knnPicks(requests, KNN_TRAIN, models.length, (r, m) => realized[requests.indexOf(r)]![m]!)] };
  const tailOracle = sum(oracle.slice(KNN_TRAIN));
  const tailBestFixed = Math.max(...fixed.map((run) => tail(run).utility));
  const baseline = [
    { policy: `knn router (k ${KNN_K}, trained on ${KNN_TRAIN} with full information)`, ...tail(knn) },
    { policy: 'thompson, contextual (online, bandit feedback)', ...tail(runs[0]!) },
  ].map((b) => ({ ...b, meanUtility: b.utility / evaluated.length, regretVsOracle: tailOracle - b.utility, regretVsBestFixed: tailBestFixed - b.utility }));
  // Their cost-quality curves on the evaluated requests (no latency term), and the models' points there.
  const knnSweep = COST_WEIGHTS.map((cost) => {
    const objective = { quality: 1, latency: 0, cost, memory: 0 };
    const score = (r: TraceRequest, m: number) => utility(r.quality[m]!, r.latencyMs[m]!, r.costUsd[m]!, objective);
    const t = tail({ picks: [...new Array<number>(KNN_TRAIN).fill(-1), ...knnPicks(requests, KNN_TRAIN, models.length, score)] });
    return [t.cost, t.quality] as const;
  });
  const tailRouter = COST_WEIGHTS.map((cost) => {
    const t = tail(replay(`cost ${cost}`, requests, models, { seed: SEEDS[0]! }, { quality: 1, latency: 0, cost, memory: 0 }));
    return [t.cost, t.quality] as const;
  });
  const tailModels = fixed.map((run) => { const t = tail(run); return [t.cost, t.quality] as const; });
  const tailCosts = [...knnSweep, ...tailRouter, ...tailModels].map((p) => p[0]);
  const [tailLow, tailHigh] = [Math.min(...tailCosts), Math.max(...tailCosts)];
  const knnPlane = { aiqKnn: aiq(knnSweep, tailLow, tailHigh), aiqRouter: aiq(tailRouter, tailLow, tailHigh), aiqModels: aiq(tailModels, tailLow, tailHigh), oracleQuality: sum(evaluated.map((r) => Math.max(...r.quality))) / evaluated.length };

  const f = (value: number, digits = 3) => value.toFixed(digits);
  const lines = [
    '',
    `trace: ${n} requests, ${models.length} models, contexts ${header.contexts.join(' / ')}; best fixed model: ${bestFixed.name.replace('fixed ', '')}`,
    `per-context best: ${[...contextBest].map(([c, m]) => `${c} → ${models[m]!.modelId}`).join(', ')}`,
    '',
    '| policy | mean utility | regret vs oracle | regret vs best fixed | per-context best share, last 500 | mean quality | mean latency ms | mean cost $ |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.policy} | ${f(r.meanUtility)} | ${f(r.regretVsOracle, 1)} | ${f(r.regretVsBestFixed, 1)} | ${f(r.contextBestShareLast500, 2)} | ${f(r.meanQuality)} | ${r.meanLatencyMs.toFixed(0)} | ${r.meanCostUsd.toExponential(2)} |`),
    '',
    `regret vs best fixed over seeds ${SEEDS.join(', ')}: ${seeds.map((s) => `${s.policy} mean ${f(s.mean, 1)} (worst ${f(s.worst, 1)})`).join('; ')}`,
    `cost-quality plane: AIQ router ${f(plane.aiqRouter)} vs single models ${f(plane.aiqModels)} over $${low.toExponential(2)}–$${high.toExponential(2)}; quality oracle ${f(oracleQuality)}; router points ${sweep.map((p) => `(w ${p.costWeight}: $${p.meanCostUsd.toExponential(2)}, q ${f(p.meanQuality)})`).join(' ')}`,
  ];
  lines.push(
    '',
    `RouterBench's KNN baseline, on requests ${KNN_TRAIN + 1}–${n} (the KNN router trained on the first ${KNN_TRAIN} with every model's outcome; the selector learning online from request 1, seeing only its own picks):`,
    '| policy | mean utility | regret vs oracle | regret vs best fixed | per-context best share | mean quality | mean cost $ |',
    '|---|---|---|---|---|---|---|',
    ...baseline.map((b) => `| ${b.policy} | ${f(b.meanUtility)} | ${f(b.regretVsOracle, 1)} | ${f(b.regretVsBestFixed, 1)} | ${f(b.share, 2)} | ${f(b.quality)} | ${b.cost.toExponential(2)} |`),
    `AIQ on those requests: knn ${f(knnPlane.aiqKnn)}, thompson ${f(knnPlane.aiqRouter)}, single models ${f(knnPlane.aiqModels)}; quality oracle ${f(knnPlane.oracleQuality)}`,
    '',
  );
  for (const run of runs) {
    const windows = Array.from({ length: Math.floor(n / WINDOW) }, (_, w) => f(share(run, w * WINDOW, (w + 1) * WINDOW), 2));
    lines.push(`per-context best share per ${WINDOW} requests, ${run.name}: ${windows.join(' ')}`);
  }
  const contextual = rows[0]!;
  lines.push(`target: thompson, contextual beats the best fixed model (negative regret by the end): ${f(contextual.regretVsBestFixed, 1)} — ${contextual.regretVsBestFixed < 0 ? 'met' : 'NOT met'}`, '');
  console.log(lines.join('\n'));

  // The chart: regret against the best fixed model, and the share of per-context best picks per window.
  const raster = new Raster(1100, 900);
  const every = 20;
  const regretSeries: Series[] = all.map((run, index) => ({
    name: run.name,
    color: PALETTE[index % PALETTE.length]!,
    width: index < runs.length ? 3 : 1,
    points: cumulativeRegret(run, bestFixed.utilities).filter((_, i) => i % every === every - 1 || i === n - 1).map((v, i) => [Math.min(n, (i + 1) * every), v] as const),
  }));
  lineChart(raster, { x: 0, y: 0, width: 1100, height: 520 }, regretSeries.filter((s) => !s.name.includes('bad')), {
    title: `CUMULATIVE REGRET VS BEST FIXED MODEL (${bestFixed.name.replace('fixed ', '').toUpperCase()}), LOWER IS BETTER`,
    xLabel: 'REQUESTS',
    yLabel: 'REGRET (UTILITY)',
    legend: 'top-left',
  });
  const shareSeries: Series[] = runs.map((run, index) => ({
    name: run.name,
    color: PALETTE[index]!,
    width: 3,
    points: Array.from({ length: Math.floor(n / WINDOW) }, (_, w) => [(w + 1) * WINDOW, share(run, w * WINDOW, (w + 1) * WINDOW)] as const),
  }));
  lineChart(raster, { x: 0, y: 530, width: 1100, height: 370 }, shareSeries, {
    title: `SHARE OF PICKS GOING TO THE PER-CONTEXT BEST MODEL, PER ${WINDOW} REQUESTS`,
    xLabel: 'REQUESTS',
    yLabel: 'SHARE',
    y: [0, 1],
    legend: 'bottom-right',
  });
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const png = join(dir, 'selection-regret.png');
  writeFileSync(png, raster.png());
  const file = join(dir, `selection-regret-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        objective: OBJECTIVE,
        requests: n,
        bestFixed: bestFixed.name,
        contextBest: Object.fromEntries([...contextBest].map(([c, m]) => [c, models[m]!.modelId])),
        rows,
        seeds,
        plane: { ...plane, models: fixed.map((r) => ({ model: r.name, meanCostUsd: r.meanCostUsd, meanQuality: r.meanQuality })), router: sweep },
        knnBaseline: { train: KNN_TRAIN, k: KNN_K, rows: baseline, plane: { ...knnPlane, knn: knnSweep, router: tailRouter, models: tailModels } },
        curves: Object.fromEntries(regretSeries.map((s) => [s.name, s.points])),
        shares: Object.fromEntries(shareSeries.map((s) => [s.name, s.points])),
      },
      null,
      2,
    ),
  );
  console.log(`chart written to ${png}\nnumbers written to ${file}`);
  expect(contextual.regretVsBestFixed).toBeLessThan(0);
}, 600_000);
