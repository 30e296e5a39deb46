import { invalidArgument } from '../errors.js';
import { nonEmptyString, optionalInteger, optionalNumber } from '../validate.js';
import type { PerformanceSample } from './types.js';

/** Longest tenant name (characters). */
export const TENANT_MAX_LENGTH = 200;

/**
 * Checks a sample's caller and cost measures (`tenant`, `queueMs`, `promptTokens`, `generatedTokens`,
 * `cpuMs`, `memoryGbSeconds`); the registry checks the rest. Returns the tenant. Throws
 * INVALID_ARGUMENT naming `sample.<field>`.
 */
export function sampleTenantAndCosts(sample: PerformanceSample): string | undefined {
  optionalNumber('sample.queueMs', sample.queueMs, 0, Number.MAX_VALUE);
  optionalInteger('sample.promptTokens', sample.promptTokens, 0);
  optionalInteger('sample.generatedTokens', sample.generatedTokens, 0);
  optionalNumber('sample.cpuMs', sample.cpuMs, 0, Number.MAX_VALUE);
  optionalNumber('sample.memoryGbSeconds', sample.memoryGbSeconds, 0, Number.MAX_VALUE);
  return sample.tenant === undefined ? undefined : nonEmptyString('sample.tenant', sample.tenant, TENANT_MAX_LENGTH);
}

/** A query's tenant: '' (all callers, the default) or a tenant name. Throws INVALID_ARGUMENT naming `field`. */
export function queryTenant(field: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || value.length > TENANT_MAX_LENGTH) {
    throw invalidArgument(field, `a tenant name of at most ${TENANT_MAX_LENGTH} characters ('' for all callers)`, value);
  }
  return value;
}
