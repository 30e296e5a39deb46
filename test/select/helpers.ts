/** Builders of candidates and a simulated serving loop for the selector's tests. */
import type { Candidate, SelectContext, Selector } from '../../src/select/index.js';
import { seededRandom } from '../helpers/expect.js';

/** A local, loaded chat candidate with no figures beyond what `extra` adds. */
export function candidate(modelId: string, extra: Partial<Candidate> = {}): Candidate {
  return { modelId, version: '1', tasks: ['chat'], local: true, loaded: true, ...extra };
}

/** The true behaviour of a model in the simulation: mean quality and typical latency. */
export interface Truth {
  quality: number;
  latencyMs: number;
}

/**
 * Runs `rounds` select → observe rounds; each outcome's quality is the truth ± 0.15 (uniform, clipped),
 * its latency the truth × e^(±0.2). Returns the model picked in each round.
 */
export function simulate(
  selector: Selector,
  candidates: readonly Candidate[],
  truth: (modelId: string, context: SelectContext) => Truth,
  rounds: number,
  contexts: readonly SelectContext[] = [{}],
  seed = 1,
): Array<{ modelId: string; context: SelectContext; explored: boolean }> {
  const next = seededRandom(seed);
  const picks: Array<{ modelId: string; context: SelectContext; explored: boolean }> = [];
  for (let round = 0; round < rounds; round++) {
    const context = contexts[round % contexts.length]!;
    const selection = selector.select({ task: 'chat', context }, candidates);
    const { quality, latencyMs } = truth(selection.modelId, context);
    selector.observe({
      modelId: selection.modelId,
      version: selection.version,
      task: 'chat',
      context,
      success: true,
      quality: Math.min(1, Math.max(0, quality + (next() - 0.5) * 0.3)),
      latencyMs: latencyMs * Math.exp((next() - 0.5) * 0.4),
    });
    picks.push({ modelId: selection.modelId, context, explored: selection.explored });
  }
  return picks;
}

/** Share of `picks` that chose `modelId`. */
export function share(picks: ReadonlyArray<{ modelId: string }>, modelId: string): number {
  return picks.filter((pick) => pick.modelId === modelId).length / picks.length;
}
