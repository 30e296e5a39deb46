/**
 * Quantisation fidelity: how far a quantised model's next-token distributions are from its reference's,
 * on the reference's own greedy continuations of a set of prompts (llama.cpp's `--kl-divergence` idea,
 * on the engine's evaluate()).
 */
import { stat } from 'node:fs/promises';
import { ModelpoolError, invalidArgument } from '../errors.js';
import { integer, nonEmptyString, optionalInteger, optionalSignal, plainObject } from '../validate.js';
import { loadModel } from '../engine/load.js';
import type { Model } from '../engine/model.js';
import { klDivergence, quantile, toDistribution, type PositionDistribution } from './divergence.js';
import type { FidelityReport, FidelityVariant, MeasureFidelityOptions, VariantFidelity } from './types.js';

/** Above this vocabulary size the default topK is TRUNCATED_TOP_K (a whole distribution per token gets costly). */
const WHOLE_VOCABULARY_LIMIT = 4096;
const TRUNCATED_TOP_K = 64;

/** One prompt's scoring case: its tokens and the reference's continuation. */
interface Case {
  promptTokens: number[];
  continuation: number[];
}

interface Checked {
  reference: string;
  variants: FidelityVariant[];
  prompts: string[];
  continuationTokens: number;
  topK: number | undefined;
  threads: number | undefined;
  signal: AbortSignal | undefined;
}

function check(options: MeasureFidelityOptions): Checked {
  plainObject('options', options);
  const reference = nonEmptyString('options.reference', options.reference);
  if (!Array.isArray(options.variants) || options.variants.length === 0) throw invalidArgument('options.variants', 'a non-empty array of { name, path }', options.variants);
  const names = new Set<string>();
  const variants = options.variants.map((v, i) => {
    plainObject(`options.variants[${i}]`, v);
    const name = nonEmptyString(`options.variants[${i}].name`, v.name);
    if (names.has(name)) throw invalidArgument(`options.variants[${i}].name`, 'a name no other variant has', name);
    names.add(name);
    return { name, path: nonEmptyString(`options.variants[${i}].path`, v.path) };
  });
  if (!Array.isArray(options.prompts) || options.prompts.length === 0) throw invalidArgument('options.prompts', 'a non-empty array of prompts', options.prompts);
  const prompts = options.prompts.map((p, i) => nonEmptyString(`options.prompts[${i}]`, p));
  return {
    reference,
    variants,
    prompts,
    continuationTokens: optionalInteger('options.continuationTokens', options.continuationTokens, 1, 65_536) ?? 32,
    topK: optionalInteger('options.topK', options.topK, 1),
    threads: optionalInteger('options.threads', options.threads, 1, 1024),
    signal: optionalSignal('options.signal', options.signal),
  };
}

async function withModel<T>(path: string, o: Checked, use: (model: Model) => Promise<T>): Promise<T> {
  const model = await loadModel(path, { parallel: 1, threads: o.threads, signal: o.signal });
  try {
    return await use(model);
  } finally {
    await model.dispose();
  }
}

const fileSize = async (path: string): Promise<number> => (await stat(path)).size;

/** The model's distributions over each continuation token, and the continuations' total log probability. */
/** Perplexity of scored continuations: e^(−mean log probability). */
const perplexityOf = (s: { logprob: number; tokens: number }): number => Math.exp(-s.logprob / Math.max(1, s.tokens));

async function score(model: Model, cases: readonly Case[], topK: number, signal: AbortSignal | undefined): Promise<{ positions: PositionDistribution[][]; logprob: number; tokens: number }> {
  const positions: PositionDistribution[][] = [];
  let logprob = 0;
  let tokens = 0;
  for (const c of cases) {
    const e = await model.evaluate({ prompt: c.promptTokens, continuation: c.continuation, topLogprobs: topK, signal });
    positions.push(e.tokens.map((t) => toDistribution(t.top ?? [])));
    logprob += e.logprob;
    tokens += e.tokens.length;
  }
  return { positions, logprob, tokens };
}

/**
 * Greedy-generates the reference's continuation of each prompt (temperature 0), scores those tokens with
 * the reference and with each variant (evaluate() with topK alternatives a position), and reports per
 * variant the top-1 agreement with the reference and KL(P_ref || P_variant) per position: mean, 95th
 * percentile, max. With topK the whole vocabulary the KL is exact; otherwise a lower bound (divergence.ts).
 * Models are loaded one at a time. Errors: INVALID_ARGUMENT naming the option; the engine's load errors;
 * INVALID_ARGUMENT naming `options.variants[i].path` for a model of another vocabulary.
 */
export async function measureFidelity(options: MeasureFidelityOptions): Promise<FidelityReport> {
  const o = check(options);
  const cases: Case[] = [];
  /** The reference's distributions, per case and position. */
  let references: PositionDistribution[][] = [];
  let skippedPrompts = 0;
  let vocabularySize = 0;
  let topK = 0;
  const reference = await withModel(o.reference, o, async (model) => {
    vocabularySize = model.info.vocabularySize;
    topK = o.topK ?? (vocabularySize <= WHOLE_VOCABULARY_LIMIT ? vocabularySize : TRUNCATED_TOP_K);
    integer('options.topK', topK, 1, vocabularySize);
    for (const prompt of o.prompts) {
      const g = await model.complete({ prompt, maxTokens: o.continuationTokens, temperature: 0, logprobs: true, signal: o.signal });
      const continuation = (g.logprobs ?? []).map((t) => t.id);
      if (continuation.length === 0) skippedPrompts++;
      else cases.push({ promptTokens: model.tokenize(prompt), continuation });
    }
    const scored = await score(model, cases, topK, o.signal);
    references = scored.positions;
    return { memoryBytes: model.memory.total, perplexity: perplexityOf(scored) };
  });
  if (cases.length === 0) throw new ModelpoolError('GENERATION_FAILED', 'the reference ended every prompt at once: there is nothing to compare', { field: 'options.prompts', value: o.prompts });
  const whole = topK === vocabularySize;

  const variants: VariantFidelity[] = [];
  for (const [i, variant] of o.variants.entries()) {
    variants.push(
      await withModel(variant.path, o, async (model) => {
        if (model.info.vocabularySize !== vocabularySize) {
          throw invalidArgument(`options.variants[${i}].path`, `a model with the reference's vocabulary of ${vocabularySize} tokens (it has ${model.info.vocabularySize})`, variant.path);
        }
        const scored = await score(model, cases, topK, o.signal);
        const kls: number[] = [];
        let agree = 0;
        scored.positions.forEach((positions, c) =>
          positions.forEach((q, at) => {
            const p = references[c]![at]!;
            kls.push(klDivergence(p, q, whole));
            if (p.ids[0] === q.ids[0]) agree++;
          }),
        );
        return {
          name: variant.name,
          path: variant.path,
          sizeBytes: await fileSize(variant.path),
          memoryBytes: model.memory.total,
          positions: kls.length,
          top1Agreement: agree / kls.length,
          meanKl: kls.reduce((s, k) => s + k, 0) / kls.length,
          p95Kl: quantile(kls, 0.95),
          maxKl: kls.reduce((m, k) => Math.max(m, k), 0),
          perplexity: perplexityOf(scored),
        };
      }),
    );
  }
  return {
    reference: { path: o.reference, sizeBytes: await fileSize(o.reference), ...reference },
    topK,
    vocabularySize,
    exact: whole,
    continuationTokens: o.continuationTokens,
    prompts: cases.length,
    skippedPrompts,
    variants,
  };
}
