import { invalidArgument } from '../errors.js';
import { boolean, finiteNumber, nonEmptyString, optionalInteger, optionalNumber } from '../validate.js';
import type { PerformanceSample } from './types.js';

/** Longest tenant name (characters). */
export const TENANT_MAX_LENGTH = 200;

/**
 * Checks a sample's task and measures (the registry checks its model and version). Returns its time
 * (`at`, when given) and tenant. Throws INVALID_ARGUMENT naming `sample.<field>`.
 */
export function checkSample(sample: PerformanceSample): { at: number | undefined; tenant: string | undefined } {
  const task: unknown = sample.task;
  if (typeof task !== 'string' || task.length === 0 || task.length > 64 || task.includes('\n')) {
    throw invalidArgument('sample.task', 'a task name', task);
  }
  finiteNumber('sample.totalMs', sample.totalMs, 0, Number.MAX_VALUE);
  boolean('sample.success', sample.success);
  optionalNumber('sample.ttftMs', sample.ttftMs, 0, Number.MAX_VALUE);
  optionalNumber('sample.tokensPerSecond', sample.tokensPerSecond, 0, Number.MAX_VALUE);
  optionalNumber('sample.quality', sample.quality, 0, 1);
  optionalNumber('sample.memoryBytes', sample.memoryBytes, 0, Number.MAX_VALUE);
  optionalNumber('sample.costUsd', sample.costUsd, 0, Number.MAX_VALUE);
  optionalNumber('sample.queueMs', sample.queueMs, 0, Number.MAX_VALUE);
  optionalInteger('sample.promptTokens', sample.promptTokens, 0);
  optionalInteger('sample.generatedTokens', sample.generatedTokens, 0);
  optionalNumber('sample.cpuMs', sample.cpuMs, 0, Number.MAX_VALUE);
  optionalNumber('sample.memoryGbSeconds', sample.memoryGbSeconds, 0, Number.MAX_VALUE);
  return {
    at: sample.at === undefined ? undefined : finiteNumber('sample.at', sample.at, 0, Number.MAX_SAFE_INTEGER),
    tenant: sample.tenant === undefined ? undefined : nonEmptyString('sample.tenant', sample.tenant, TENANT_MAX_LENGTH),
  };
}

/** A query's tenant: '' (all callers, the default) or a tenant name. Throws INVALID_ARGUMENT naming `field`. */
export function queryTenant(field: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || value.length > TENANT_MAX_LENGTH) {
    throw invalidArgument(field, `a tenant name of at most ${TENANT_MAX_LENGTH} characters ('' for all callers)`, value);
  }
  return value;
}
