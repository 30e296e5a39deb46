/** Checking the health room's options once, into plain resolved objects with every default filled in. */
import { invalidArgument } from '../errors.js';
import { finiteNumber, integer, onlyKnownKeys, optionalBoolean, plainObject } from '../validate.js';
import { countsAsFailure } from './classify.js';
import type { BreakerOptions, FailureRateOptions, ProbeOptions, TrackerOptions } from './types.js';

/** A breaker's defaults: LiteLLM's cooldown (3 failures, 5 s), one trial at a time. */
export const BREAKER_DEFAULTS = Object.freeze({
  failureThreshold: 3,
  cooldownMs: 5_000,
  cooldownGrowth: 1,
  maxCooldownMs: 60_000,
  halfOpenProbes: 1,
  successesToClose: 1,
  trialTimeoutMs: 60_000,
} as const);

/** Used for the fields `failureRate` leaves out (the rate is off without it). */
export const FAILURE_RATE_DEFAULTS = Object.freeze({ threshold: 0.5, minRequests: 10, windowMs: 30_000 } as const);

/** A tracker's defaults. */
export const TRACKER_DEFAULTS = Object.freeze({ windowSize: 100, windowMs: 300_000, ewmaAlpha: 0.2, maxKeys: 10_000, idleMs: 3_600_000 } as const);

/** A probe's defaults (a monitor's `options.probe` replaces them for its add() calls). */
export const PROBE_DEFAULTS = Object.freeze({ intervalMs: 30_000, timeoutMs: 10_000, jitter: 0.1, immediate: true } as const);

const DAY_MS = 86_400_000;

export interface ResolvedBreakerOptions {
  failureThreshold: number;
  failureRate?: Required<FailureRateOptions>;
  cooldownMs: number;
  cooldownGrowth: number;
  maxCooldownMs: number;
  halfOpenProbes: number;
  successesToClose: number;
  trialTimeoutMs: number;
  countsAsFailure: (error: unknown) => boolean;
  now: () => number;
}

const BREAKER_KEYS = ['failureThreshold', 'failureRate', 'cooldownMs', 'cooldownGrowth', 'maxCooldownMs', 'halfOpenProbes', 'successesToClose', 'trialTimeoutMs', 'countsAsFailure', 'now'];

/** A function option, or its default; INVALID_ARGUMENT naming `field` otherwise. */
export function functionOption<F>(field: string, value: unknown, fallback: F, expected = 'a function'): F {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw invalidArgument(field, expected, value);
  return value as F;
}

/** Checks breaker options (INVALID_ARGUMENT naming `<field>.<name>`) and fills in the defaults. */
export function resolveBreakerOptions(options: unknown, field = 'options'): ResolvedBreakerOptions {
  const o = plainObject(field, options === undefined ? {} : options) as BreakerOptions;
  onlyKnownKeys(field, o as Record<string, unknown>, BREAKER_KEYS);
  const cooldownMs = integer(`${field}.cooldownMs`, o.cooldownMs ?? BREAKER_DEFAULTS.cooldownMs, 0, DAY_MS);
  const resolved: ResolvedBreakerOptions = {
    failureThreshold: integer(`${field}.failureThreshold`, o.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold, 1, 1_000_000),
    cooldownMs,
    cooldownGrowth: finiteNumber(`${field}.cooldownGrowth`, o.cooldownGrowth ?? BREAKER_DEFAULTS.cooldownGrowth, 1, 10),
    maxCooldownMs: integer(`${field}.maxCooldownMs`, o.maxCooldownMs ?? Math.max(BREAKER_DEFAULTS.maxCooldownMs, cooldownMs), cooldownMs, DAY_MS),
    halfOpenProbes: integer(`${field}.halfOpenProbes`, o.halfOpenProbes ?? BREAKER_DEFAULTS.halfOpenProbes, 1, 1000),
    successesToClose: integer(`${field}.successesToClose`, o.successesToClose ?? BREAKER_DEFAULTS.successesToClose, 1, 1000),
    trialTimeoutMs: integer(`${field}.trialTimeoutMs`, o.trialTimeoutMs ?? BREAKER_DEFAULTS.trialTimeoutMs, 1, DAY_MS),
    countsAsFailure: functionOption(`${field}.countsAsFailure`, o.countsAsFailure, countsAsFailure, 'a function (error) => boolean'),
    now: functionOption(`${field}.now`, o.now, Date.now, 'a function returning epoch milliseconds'),
  };
  if (o.failureRate !== undefined) {
    const rate = plainObject(`${field}.failureRate`, o.failureRate) as FailureRateOptions;
    onlyKnownKeys(`${field}.failureRate`, rate as Record<string, unknown>, ['threshold', 'minRequests', 'windowMs']);
    const threshold = finiteNumber(`${field}.failureRate.threshold`, rate.threshold ?? FAILURE_RATE_DEFAULTS.threshold, 0, 1);
    if (threshold === 0) throw invalidArgument(`${field}.failureRate.threshold`, 'a number above 0 and at most 1', threshold);
    resolved.failureRate = {
      threshold,
      minRequests: integer(`${field}.failureRate.minRequests`, rate.minRequests ?? FAILURE_RATE_DEFAULTS.minRequests, 1, 1_000_000),
      windowMs: integer(`${field}.failureRate.windowMs`, rate.windowMs ?? FAILURE_RATE_DEFAULTS.windowMs, 10, DAY_MS),
    };
  }
  return resolved;
}

/** Per-key options over the defaults: a field the override names replaces the default's (failureRate as a whole). */
export function mergeBreakerOptions(defaults: BreakerOptions | undefined, override: BreakerOptions | undefined): BreakerOptions {
  return { ...(defaults ?? {}), ...(override ?? {}) };
}

export type ResolvedTrackerOptions = Required<TrackerOptions>;

/** Checks tracker options (INVALID_ARGUMENT naming `options.<name>`) and fills in the defaults. */
export function resolveTrackerOptions(options: unknown): ResolvedTrackerOptions {
  const o = plainObject('options', options === undefined ? {} : options) as TrackerOptions;
  onlyKnownKeys('options', o as Record<string, unknown>, ['windowSize', 'windowMs', 'ewmaAlpha', 'maxKeys', 'idleMs', 'now']);
  const alpha = finiteNumber('options.ewmaAlpha', o.ewmaAlpha ?? TRACKER_DEFAULTS.ewmaAlpha, 0, 1);
  if (alpha === 0) throw invalidArgument('options.ewmaAlpha', 'a number above 0 and at most 1', alpha);
  return {
    windowSize: integer('options.windowSize', o.windowSize ?? TRACKER_DEFAULTS.windowSize, 1, 10_000),
    windowMs: integer('options.windowMs', o.windowMs ?? TRACKER_DEFAULTS.windowMs, 1, DAY_MS),
    ewmaAlpha: alpha,
    maxKeys: integer('options.maxKeys', o.maxKeys ?? TRACKER_DEFAULTS.maxKeys, 1, 10_000_000),
    idleMs: integer('options.idleMs', o.idleMs ?? TRACKER_DEFAULTS.idleMs, 1, 365 * DAY_MS),
    now: functionOption('options.now', o.now, Date.now, 'a function returning epoch milliseconds'),
  };
}

export type ResolvedProbeOptions = Required<ProbeOptions>;

/** Checks probe options (INVALID_ARGUMENT naming `<field>.<name>`) over `defaults`. */
export function resolveProbeOptions(options: unknown, field: string, defaults: ResolvedProbeOptions): ResolvedProbeOptions {
  const o = plainObject(field, options === undefined ? {} : options) as ProbeOptions;
  onlyKnownKeys(field, o as Record<string, unknown>, ['intervalMs', 'timeoutMs', 'jitter', 'immediate']);
  return {
    intervalMs: integer(`${field}.intervalMs`, o.intervalMs ?? defaults.intervalMs, 1, DAY_MS),
    timeoutMs: integer(`${field}.timeoutMs`, o.timeoutMs ?? defaults.timeoutMs, 1, DAY_MS),
    jitter: finiteNumber(`${field}.jitter`, o.jitter ?? defaults.jitter, 0, 0.5),
    immediate: optionalBoolean(`${field}.immediate`, o.immediate) ?? defaults.immediate,
  };
}

/** A clock reading, checked: INVALID_ARGUMENT naming `now()` when the injected clock misbehaves. */
export function readClock(now: () => number): number {
  const time = now();
  if (typeof time !== 'number' || !Number.isFinite(time)) throw invalidArgument('now()', 'a finite number of epoch milliseconds', time);
  return time;
}
