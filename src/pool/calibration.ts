/**
 * Self-correcting memory estimates. After every load the pool compares what the engine estimated
 * with what the model really allocated, and learns the ratio measured/estimated per architecture
 * and per kind of memory (weights, KV cache, compute buffers) as an exponentially weighted moving
 * average. Kinds are kept apart because they scale differently — weights with the file, KV with
 * the context, compute with the batch — so a ratio learned on one model shape still holds on
 * another of the same architecture. A kind the estimator missed entirely (estimated 0, measured >0)
 * is learned as a fixed offset per device.
 */

import type { MemoryReport } from '../model/types.js';
import type { DeviceBytes } from './eviction.js';

/** `other` is whatever a report counts in `total` but under no named kind (output buffers etc.). */
export type MemoryKind = 'weights' | 'kvCache' | 'compute' | 'other';
const KINDS: readonly MemoryKind[] = ['weights', 'kvCache', 'compute', 'other'];

interface KindedBytes {
  weights: number;
  kvCache: number;
  compute: number;
  total: number;
}

function kindBytes(d: KindedBytes, kind: MemoryKind): number {
  return kind === 'other' ? Math.max(0, d.total - d.weights - d.kvCache - d.compute) : d[kind];
}

function zeroKinds(): Record<MemoryKind, number> {
  return { weights: 0, kvCache: 0, compute: 0, other: 0 };
}

export interface CalibrationOptions {
  /** Weight of a new sample once warmed up (the first samples are averaged plainly). Default 0.3. */
  alpha?: number;
  /** Ratios are clamped to [1/maxRatio, maxRatio]. Default 10. */
  maxRatio?: number;
}

export interface ArchitectureCalibration {
  architecture: string;
  samples: number;
  /** Learned measured/estimated ratio per kind (1 = the engine's raw estimate). */
  ratios: Record<MemoryKind, number>;
  /** Signed relative error of the last calibrated estimate: (measured − estimate) / measured. */
  lastError: number;
  /** EWMA of |error| of calibrated estimates. */
  meanAbsError: number;
  /** EWMA of |error| of the engine's raw estimates, for comparison. */
  rawMeanAbsError: number;
}

export interface CalibrationSample {
  architecture: string;
  rawEstimate: number;
  calibratedEstimate: number;
  measured: number;
  /** (measured − calibrated) / measured. */
  error: number;
  /** (measured − raw) / measured. */
  rawError: number;
}

interface ArchState {
  samples: number;
  ratio: Record<MemoryKind, number>;
  ratioSamples: Record<MemoryKind, number>;
  /** device → kind → offset bytes for kinds the estimator did not see on that device. */
  offsets: Map<string, Record<MemoryKind, number>>;
  lastError: number;
  meanAbsError: number;
  rawMeanAbsError: number;
}

/** Sum of a report's bytes per device. */
export function reportDevices(report: MemoryReport): DeviceBytes {
  const out: DeviceBytes = new Map();
  for (const d of report.devices) out.set(d.device, (out.get(d.device) ?? 0) + d.total);
  if (out.size === 0 && report.total > 0) out.set('CPU', report.total);
  return out;
}

export function sumBytes(bytes: DeviceBytes): number {
  let s = 0;
  for (const v of bytes.values()) s += v;
  return s;
}

export class MemoryCalibrator {
  readonly #alpha: number;
  readonly #maxRatio: number;
  readonly #archs = new Map<string, ArchState>();

  constructor(options: CalibrationOptions = {}) {
    this.#alpha = options.alpha ?? 0.3;
    this.#maxRatio = options.maxRatio ?? 10;
  }

  /** The estimate per device after applying what was learned for this architecture. */
  calibrate(architecture: string, raw: MemoryReport): DeviceBytes {
    const state = this.#archs.get(architecture);
    if (state === undefined) return reportDevices(raw);
    const out: DeviceBytes = new Map();
    for (const d of raw.devices) {
      let bytes = 0;
      const offsets = state.offsets.get(d.device);
      for (const kind of KINDS) {
        const est = kindBytes(d, kind);
        bytes += est > 0 ? est * state.ratio[kind] : (offsets?.[kind] ?? 0);
      }
      out.set(d.device, (out.get(d.device) ?? 0) + Math.round(bytes));
    }
    for (const [device, offsets] of state.offsets) {
      if (out.has(device)) continue;
      const extra = offsets.weights + offsets.kvCache + offsets.compute + offsets.other;
      if (extra > 0) out.set(device, Math.round(extra));
    }
    if (out.size === 0 && raw.total > 0) out.set('CPU', raw.total);
    return out;
  }

  /** Learns from one load; returns the errors of the raw and calibrated estimates. */
  record(architecture: string, raw: MemoryReport, measured: MemoryReport): CalibrationSample {
    const calibrated = sumBytes(this.calibrate(architecture, raw));
    const measuredTotal = measured.total;
    const error = measuredTotal > 0 ? (measuredTotal - calibrated) / measuredTotal : 0;
    const rawError = measuredTotal > 0 ? (measuredTotal - raw.total) / measuredTotal : 0;

    let state = this.#archs.get(architecture);
    if (state === undefined) {
      state = {
        samples: 0,
        ratio: { weights: 1, kvCache: 1, compute: 1, other: 1 },
        ratioSamples: zeroKinds(),
        offsets: new Map(),
        lastError: 0,
        meanAbsError: 0,
        rawMeanAbsError: 0,
      };
      this.#archs.set(architecture, state);
    }
    const weight = (n: number): number => Math.max(this.#alpha, 1 / (n + 1));
    for (const kind of KINDS) {
      const est = kindBytes(raw, kind);
      const got = kindBytes(measured, kind);
      if (est > 0) {
        const ratio = Math.min(this.#maxRatio, Math.max(1 / this.#maxRatio, got / est));
        const w = weight(state.ratioSamples[kind]);
        state.ratio[kind] = state.ratio[kind] * (1 - w) + ratio * w;
        state.ratioSamples[kind]++;
      }
      // Per device: kinds the estimate left at zero but the load really allocated.
      for (const d of measured.devices) {
        const estDevice = raw.devices.find((e) => e.device === d.device);
        if (estDevice !== undefined && kindBytes(estDevice, kind) > 0) continue;
        const got = kindBytes(d, kind);
        let offsets = state.offsets.get(d.device);
        if (offsets === undefined) {
          if (got === 0) continue;
          offsets = zeroKinds();
          state.offsets.set(d.device, offsets);
        }
        const w = weight(state.samples);
        offsets[kind] = offsets[kind] * (1 - w) + got * w;
      }
    }
    const w = weight(state.samples);
    state.meanAbsError = state.meanAbsError * (1 - w) + Math.abs(error) * w;
    state.rawMeanAbsError = state.rawMeanAbsError * (1 - w) + Math.abs(rawError) * w;
    state.lastError = error;
    state.samples++;
    return { architecture, rawEstimate: raw.total, calibratedEstimate: calibrated, measured: measuredTotal, error, rawError };
  }

  stats(): ArchitectureCalibration[] {
    return [...this.#archs].map(([architecture, s]) => ({
      architecture,
      samples: s.samples,
      ratios: { ...s.ratio },
      lastError: s.lastError,
      meanAbsError: s.meanAbsError,
      rawMeanAbsError: s.rawMeanAbsError,
    }));
  }
}
