import { ModelpoolError } from '../errors.js';
import type { LifecycleState } from './types.js';

/**
 * The lifecycle state machine of a version. Beyond the main line
 * (registered → loading → ready → draining → retired, failed from loading/ready) it allows:
 * - loading → registered: a load was cancelled; the version is still available;
 * - draining → registered: unloaded (e.g. evicted) but still available to load again;
 * - draining → ready: a swap rolled back before the old version finished draining;
 * - failed → loading: retry; failed → retired: give up;
 * - registered → retired: taken out of service without ever loading;
 * - retired → loading: reactivate an old version, e.g. to roll back to it.
 */
export const LEGAL_TRANSITIONS: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = Object.freeze({
  registered: Object.freeze(['loading', 'retired'] as const),
  loading: Object.freeze(['ready', 'failed', 'registered'] as const),
  ready: Object.freeze(['draining', 'failed'] as const),
  draining: Object.freeze(['retired', 'registered', 'ready'] as const),
  failed: Object.freeze(['loading', 'retired'] as const),
  retired: Object.freeze(['loading'] as const),
});

/** States in which a version is (or may be) serving: it cannot be removed. */
export const IN_USE_STATES: ReadonlySet<LifecycleState> = new Set(['loading', 'ready', 'draining']);

export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return LEGAL_TRANSITIONS[from].includes(to);
}

export function assertTransition(modelId: string, version: string, from: LifecycleState, to: LifecycleState): void {
  if (!canTransition(from, to)) {
    const allowed = LEGAL_TRANSITIONS[from];
    throw new ModelpoolError(
      'ILLEGAL_TRANSITION',
      `Cannot move ${modelId}@${version} from ${from} to ${to}; from ${from} it may go to ${allowed.join(', ')}`,
      { field: 'to', value: to, details: { modelId, version, from, to, allowed: [...allowed] } },
    );
  }
}
