/**
 * The selector's persisted form: options, the random generator's state and every arm's prior and data
 * (globally and per context key). Restoring checks every field and names the first bad one.
 */
import { ModelpoolError, invalidArgument } from '../errors.js';
import { boolean, finiteNumber, integer, nonEmptyString, plainObject } from '../validate.js';
import type { Arm } from './arm.js';
import type { ContextKeys } from './context.js';
import { Data } from './posterior.js';
import type { ArmTable } from './arms.js';
import type { ResolvedOptions } from './input.js';
import type { Random } from './random.js';
import type { SelectorArmJson, SelectorJson, SelectorOptions } from './types.js';

/** What persistence reads and writes of a selector. */
interface Persistable {
  readonly options: Readonly<ResolvedOptions>;
  readonly arms: ArmTable;
  readonly contexts: ContextKeys;
  readonly random: Random;
}

function armJson(arm: Arm, contexts: ContextKeys): SelectorArmJson {
  const byKey: Record<string, number[]> = {};
  for (const [id, context] of arm.contexts) byKey[contexts.key(id)] = context.data.toArray();
  return {
    modelId: arm.modelId,
    version: arm.version,
    task: arm.task,
    prior: { ...arm.prior, fromCandidate: arm.priorFromCandidate },
    data: [...arm.data.toArray(), arm.costWeight, arm.costSum],
    observed: arm.observed,
    contexts: byKey,
  };
}

export function selectorJson(selector: Persistable): SelectorJson {
  const { objective, exploration, contextual, priorStrength, maxHistoryWeight, maxPredecessorWeight, contextPriorWeight, halfLife } = selector.options;
  return {
    format: 'modelpool-selector',
    version: 1,
    // JSON has no Infinity: null stands for "never forget".
    options: { objective: { ...objective }, exploration, contextual, priorStrength, maxHistoryWeight, maxPredecessorWeight, contextPriorWeight, halfLife: Number.isFinite(halfLife) ? halfLife : null },
    random: selector.random.state,
    arms: [...selector.arms.values()].map((arm) => armJson(arm, selector.contexts)),
  };
}

/** `length` finite numbers ≥ `min` (weights and sums of data are never negative). */
function numbers(field: string, value: unknown, length: number, min = -Number.MAX_VALUE): number[] {
  if (!Array.isArray(value) || value.length !== length) throw invalidArgument(field, `an array of ${length} numbers`, value);
  value.forEach((item, index) => finiteNumber(`${field}[${index}]`, item, min, Number.MAX_VALUE));
  return value as number[];
}


function restoreArm(field: string, value: unknown, target: Persistable): void {
  const json = plainObject(field, value);
  const prior = plainObject(`${field}.prior`, json.prior);
  const arm = target.arms.restore(
    nonEmptyString(`${field}.modelId`, json.modelId),
    nonEmptyString(`${field}.version`, json.version),
    nonEmptyString(`${field}.task`, json.task),
    {
      quality: finiteNumber(`${field}.prior.quality`, prior.quality, 0, 1),
      qualityKnown: boolean(`${field}.prior.qualityKnown`, prior.qualityKnown),
      logLatency: finiteNumber(`${field}.prior.logLatency`, prior.logLatency, 0, 1e3),
      latencyKnown: boolean(`${field}.prior.latencyKnown`, prior.latencyKnown),
    },
  );
  arm.priorFromCandidate = boolean(`${field}.prior.fromCandidate`, prior.fromCandidate);
  const data = numbers(`${field}.data`, json.data, 7, 0);
  arm.data.addScaled(Data.fromArray(data), 1);
  arm.costWeight = data[5]!;
  arm.costSum = data[6]!;
  arm.observed = integer(`${field}.observed`, json.observed, 0);
  const contexts = plainObject(`${field}.contexts`, json.contexts);
  for (const [key, entry] of Object.entries(contexts)) {
    arm.seedContext(target.contexts.id(key), Data.fromArray(numbers(`${field}.contexts[${JSON.stringify(key)}]`, entry, 5, 0)), 1);
  }
}

/** Rebuilds a selector from its JSON: `make` creates it from the stored options, then arms are restored. */
export function restoreSelector<T extends Persistable>(value: unknown, make: (options: SelectorOptions) => T): T {
  const json = plainObject('json', value);
  if (json.format !== 'modelpool-selector') throw invalidArgument('json.format', "'modelpool-selector'", json.format);
  if (json.version !== 1) throw invalidArgument('json.version', '1', json.version);
  const stored = plainObject('json.options', json.options);
  // Written by a selector without forgetting (or before it existed): never forget, as it did.
  const options = { ...stored, halfLife: stored.halfLife === null || stored.halfLife === undefined ? Infinity : stored.halfLife } as SelectorOptions;
  let selector: T;
  try {
    selector = make({ ...options, seed: 0 });
  } catch (error) {
    // Name the field as it is in the JSON ('json.options.priorStrength').
    if (!(error instanceof ModelpoolError) || error.field === undefined) throw error;
    throw new ModelpoolError(error.code, error.message.replace(` for ${error.field} `, ` for json.${error.field} `), {
      field: `json.${error.field}`,
      value: error.value,
    });
  }
  const random = numbers('json.random', json.random, 4);
  random.forEach((word, index) => integer(`json.random[${index}]`, word, -(2 ** 31), 2 ** 31 - 1));
  selector.random.state = random;
  if (!Array.isArray(json.arms)) throw invalidArgument('json.arms', 'an array', json.arms);
  json.arms.forEach((arm, index) => restoreArm(`json.arms[${index}]`, arm, selector));
  return selector;
}
