import { ModelpoolError } from '../errors.js';
import { finiteNumber, plainObject } from '../validate.js';
import type { LocalRates } from './types.js';

/**
 * Default local rates: an on-demand cloud container, so that a local model's dollars compare with a
 * remote API's. Assumption, not a measurement — configure your own figures.
 *
 * - `perCoreHourUsd` 0.04048 and `perGbHourUsd` 0.004445: AWS Fargate on-demand, Linux/x86, us-east-1
 *   (per vCPU-hour and per GB-hour), the price of renting the cores and memory the request held.
 * - `perKwhUsd` 0: a rented core's price already includes its power; set a tariff (and your hardware's
 *   amortised price per core-hour) when the machine is your own.
 * - `perGpuHourUsd` 0: GPU prices span more than 30× between boards; set yours.
 * - `wattsPerCore` 10 and `gpuWatts` 300: typical draw of a busy server core and a busy datacenter GPU;
 *   they give `energyKwh`, reported even when energy is not priced.
 */
export const DEFAULT_LOCAL_RATES: Readonly<Required<LocalRates>> = Object.freeze({
  perCoreHourUsd: 0.04048,
  perGbHourUsd: 0.004445,
  perGpuHourUsd: 0,
  perKwhUsd: 0,
  wattsPerCore: 10,
  gpuWatts: 300,
});

const RATE_KEYS = Object.keys(DEFAULT_LOCAL_RATES) as (keyof LocalRates)[];

/**
 * Checks local rates: an object whose fields (all optional) are finite numbers ≥ 0; unknown fields are
 * refused (a misspelt rate would silently fall back to its default). Returns the rates given.
 * Throws INVALID_ARGUMENT naming `<field>.<rate>` (e.g. `rates.perCoreHourUsd`).
 */
export function validateLocalRates(value: unknown, field = 'rates'): LocalRates {
  const object = plainObject(field, value);
  for (const key of Object.keys(object)) {
    if (!(RATE_KEYS as string[]).includes(key)) {
      throw new ModelpoolError('INVALID_ARGUMENT', `Unknown rate ${field}.${key} (known: ${RATE_KEYS.join(', ')})`, {
        field: `${field}.${key}`,
        value: object[key],
      });
    }
  }
  const rates: LocalRates = {};
  for (const key of RATE_KEYS) {
    if (object[key] !== undefined) rates[key] = finiteNumber(`${field}.${key}`, object[key], 0, Number.MAX_VALUE);
  }
  return rates;
}

/** Rates with every default filled in; `rates` is validated (INVALID_ARGUMENT naming `field`). */
export function resolveLocalRates(rates?: LocalRates, field = 'rates'): Required<LocalRates> {
  return rates === undefined ? { ...DEFAULT_LOCAL_RATES } : { ...DEFAULT_LOCAL_RATES, ...validateLocalRates(rates, field) };
}
