/**
 * Memory budgets per device. A budget is given in bytes or as a percentage of the device's total
 * ("80%"); by default it is the free memory when the pool starts minus a safety margin (itself
 * bytes or a percentage of the total). Devices are named as the engine's memory reports name them:
 * "CPU" is host RAM, GPUs by their backend device name.
 */

import { invalidArgument } from '../errors.js';
import type { DeviceMemoryInfo } from '../model/provider.js';
import type { DeviceBytes } from './eviction.js';

export type { DeviceMemoryInfo } from '../model/provider.js';

export type ByteAmount = number | `${number}%`;

export interface MemoryBudgetOptions {
  /** Budget per device name ("CPU", "CUDA0", ...), in bytes or percent of the device's total. */
  budgets?: Record<string, ByteAmount>;
  /** Kept free on each device when the budget is derived from free memory. Default "10%". */
  margin?: ByteAmount;
}

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

/** Resolves a byte amount; percentages need the device total. */
export function resolveBytes(field: string, amount: unknown, total: number | undefined): number {
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount) || amount < 0) throw invalidArgument(field, 'a number of bytes >= 0 or a percentage like "80%"', amount);
    return Math.floor(amount);
  }
  if (typeof amount === 'string') {
    const match = PERCENT.exec(amount);
    if (match !== null) {
      const percent = Number(match[1]);
      if (percent > 100) throw invalidArgument(field, 'a percentage between 0% and 100%', amount);
      if (total === undefined) {
        throw invalidArgument(field, 'a number of bytes (this device reports no total, so a percentage cannot be resolved)', amount);
      }
      return Math.floor((total * percent) / 100);
    }
  }
  throw invalidArgument(field, 'a number of bytes >= 0 or a percentage like "80%"', amount);
}

/** Checks the shape of budget options without resolving percentages. */
export function validateBudgetOptions(options: MemoryBudgetOptions | undefined): void {
  if (options === undefined) return;
  if (options.budgets !== undefined) {
    if (typeof options.budgets !== 'object' || options.budgets === null) throw invalidArgument('memory.budgets', 'an object', options.budgets);
    for (const [device, amount] of Object.entries(options.budgets)) resolveBytes(`memory.budgets.${device}`, amount, 100);
  }
  if (options.margin !== undefined) resolveBytes('memory.margin', options.margin, 100);
}

/**
 * Budgets per device: explicit ones as given; every device the provider reports and that has no
 * explicit budget gets free − margin. A device not listed anywhere has no budget (unlimited).
 */
export function resolveBudgets(options: MemoryBudgetOptions | undefined, devices: readonly DeviceMemoryInfo[]): DeviceBytes {
  const out: DeviceBytes = new Map();
  const byName = new Map(devices.map((d) => [d.device, d]));
  for (const d of devices) {
    const margin = resolveBytes('memory.margin', options?.margin ?? '10%', d.total);
    out.set(d.device, Math.max(0, d.free - margin));
  }
  for (const [device, amount] of Object.entries(options?.budgets ?? {})) {
    out.set(device, resolveBytes(`memory.budgets.${device}`, amount, byName.get(device)?.total));
  }
  return out;
}

/** Bytes for people: "512 B", "1.5 KiB", "3.0 GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
