/**
 * Calibration: how well a judge agrees with human labels. Each labelled item is judged on its
 * criterion (bounded concurrency); items the judge cannot score are reported as failures and left
 * out of the figures.
 */
import { invalidArgument, isModelpoolError } from '../errors.js';
import { integer, optionalSignal, plainObject } from '../validate.js';
import { mapLimited } from '../core/concurrency.js';
import { checkLabelledItem } from './labels.js';
import { kendallTau, spearman } from './stats.js';
import type { CalibrateOptions, CalibrationFailure, CalibrationReport, CalibrationStats, Judging, LabelledItem, Verdict } from './types.js';

/** The part of a verdict calibration reads. */
type Prediction = Pick<Verdict, 'score' | 'normalized' | 'pass'>;

const SCORE_CLASSES = [1, 2, 3, 4, 5];
const PASS_CLASSES = ['fail', 'pass'];

function share(count: number, n: number): number | null {
  return n === 0 ? null : count / n;
}

/**
 * Agreement figures of predictions against labels of one kind: 1..5 scores (exact agreement of the
 * rounded score, within one, 5×5 confusion, MAE on 1..5) or booleans (pass = label, 2×2 confusion,
 * MAE of the normalised score against 0/1). Correlations pair each label with the unrounded score.
 */
export function agreementStats(
  labels: ReadonlyArray<number | boolean>,
  predictions: readonly Prediction[],
  scale: '1-5' | 'pass-fail' = Array.isArray(labels) && typeof labels[0] === 'boolean' ? 'pass-fail' : '1-5',
): CalibrationStats {
  if (!Array.isArray(labels)) throw invalidArgument('labels', 'an array of labels', labels);
  if (!Array.isArray(predictions) || predictions.length !== labels.length) throw invalidArgument('predictions', `an array of ${labels.length} verdicts`, predictions);
  if (scale !== '1-5' && scale !== 'pass-fail') throw invalidArgument('scale', "'1-5' or 'pass-fail'", scale);
  const n = labels.length;
  for (const [i, label] of labels.entries()) {
    const ok = scale === 'pass-fail' ? typeof label === 'boolean' : typeof label === 'number' && Number.isInteger(label) && label >= 1 && label <= 5;
    if (!ok) throw invalidArgument(`labels[${i}]`, scale === 'pass-fail' ? 'a boolean (pass-fail scale)' : 'an integer 1..5 (1-5 scale)', label);
  }
  const scores = predictions.map((p) => p.score);
  if (scale === 'pass-fail') {
    const truth = labels.map((l) => (l === true ? 1 : 0));
    const confusion = [
      [0, 0],
      [0, 0],
    ];
    let agree = 0;
    let absolute = 0;
    for (let i = 0; i < n; i++) {
      const predicted = predictions[i]!.pass ? 1 : 0;
      confusion[truth[i]!]![predicted]! += 1;
      if (predicted === truth[i]) agree++;
      absolute += Math.abs(predictions[i]!.normalized - truth[i]!);
    }
    return {
      n,
      scale,
      agreement: share(agree, n),
      confusion,
      classes: [...PASS_CLASSES],
      spearman: spearman(truth, scores),
      kendallTau: kendallTau(truth, scores),
      meanAbsoluteError: share(absolute, n),
    };
  }
  const truth = labels as number[];
  const confusion = SCORE_CLASSES.map(() => SCORE_CLASSES.map(() => 0));
  let agree = 0;
  let withinOne = 0;
  let absolute = 0;
  for (let i = 0; i < n; i++) {
    const rounded = Math.min(5, Math.max(1, Math.round(scores[i]!)));
    confusion[truth[i]! - 1]![rounded - 1]! += 1;
    if (rounded === truth[i]) agree++;
    if (Math.abs(rounded - truth[i]!) <= 1) withinOne++;
    absolute += Math.abs(scores[i]! - truth[i]!);
  }
  return {
    n,
    scale,
    agreement: share(agree, n),
    withinOne: share(withinOne, n),
    confusion,
    classes: [...SCORE_CLASSES],
    spearman: spearman(truth, scores),
    kendallTau: kendallTau(truth, scores),
    meanAbsoluteError: share(absolute, n),
  };
}

function checkLabelled(labelled: unknown): LabelledItem[] {
  if (!Array.isArray(labelled) || labelled.length === 0) throw invalidArgument('labelled', 'a non-empty array of labelled items', labelled);
  const numeric = typeof (labelled[0] as { label?: unknown } | undefined)?.label !== 'boolean';
  return labelled.map((given, i) => {
    const item = checkLabelledItem(given, `labelled[${i}].`);
    if ((typeof item.label === 'boolean') === numeric) {
      throw invalidArgument(`labelled[${i}].label`, numeric ? 'an integer 1..5 (the set has score labels)' : 'a boolean (the set has pass/fail labels)', item.label);
    }
    return item;
  });
}

/**
 * Judges every labelled item on its criterion (at most `concurrency` at once, default 4) and
 * measures agreement with the labels, overall and per criterion. Items the judge fails on are listed
 * in `failures` and left out; ABORTED when the signal fires.
 */
export async function calibrate(judge: Pick<Judging, 'judge'>, labelled: LabelledItem[], options: CalibrateOptions = {}): Promise<CalibrationReport> {
  if (typeof (judge as { judge?: unknown } | null)?.judge !== 'function') throw invalidArgument('judge', 'a Judge or an ensemble', judge);
  const items = checkLabelled(labelled);
  const o = plainObject('options', options);
  const concurrency = o.concurrency === undefined ? 4 : integer('options.concurrency', o.concurrency, 1, 1024);
  const signal = optionalSignal('options.signal', o.signal);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgument('options.onProgress', 'a function', o.onProgress);
  const onProgress = o.onProgress as CalibrateOptions['onProgress'];
  let done = 0;
  const settled = await mapLimited(
    items,
    concurrency,
    async (item, _index, inner) => {
      try {
        return await judge.judge(item, item.criterion, { signal: inner });
      } finally {
        onProgress?.(++done, items.length);
      }
    },
    { settle: true, ...(signal === undefined ? {} : { signal }) },
  );
  const failures: CalibrationFailure[] = [];
  const predictions = settled.map((s, index): Verdict | undefined => {
    if (s.ok) return s.value;
    const error = s.error;
    failures.push({
      index,
      ...(items[index]!.id === undefined ? {} : { id: items[index]!.id }),
      code: isModelpoolError(error) ? error.code : 'UNKNOWN',
      message: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  });
  const scale = typeof items[0]!.label === 'boolean' ? 'pass-fail' : '1-5';
  const statsOf = (indexes: number[]): CalibrationStats => {
    const scored = indexes.filter((i) => predictions[i] !== undefined);
    return agreementStats(
      scored.map((i) => items[i]!.label),
      scored.map((i) => predictions[i]!),
      scale,
    );
  };
  const all = items.map((_, i) => i);
  const byCriterion: Record<string, CalibrationStats> = {};
  for (const criterion of new Set(items.map((item) => item.criterion))) {
    byCriterion[criterion] = statsOf(all.filter((i) => items[i]!.criterion === criterion));
  }
  return { ...statsOf(all), total: items.length, failures, byCriterion, predictions };
}
