/**
 * Which model serves a request: the model it names (resolved in the registry, or taken as a pool id), or
 * the selector's choice among the task's candidates; and, when that one fails, the models to fall back to
 * (a named model's configured chain, or the selection's next-best candidates).
 */
import { ModelpoolError } from '../errors.js';
import type { ModelRegistry } from '../registry/index.js';
import type { ResolvedModel } from '../registry/types.js';
import type { CandidateExplanation, Selector } from '../select/index.js';
import { poolId, type CandidateEntry, type CandidateSource } from './candidates.js';
import type { Route } from './route.js';

/** How the model was chosen. */
export interface SelectionInfo {
  /** 'named': the request named the model; 'selected': the selector chose it. */
  mode: 'named' | 'selected';
  task: string;
  contextKey?: string;
  /** The choice was an exploration draw (Thompson sampling) rather than the best posterior mean. */
  explored?: boolean;
  score?: number;
  /** Every candidate: rejected by which constraint, or its score. Empty for 'named'. */
  candidates(): CandidateExplanation[];
}

const NAMED_EXPLANATION = (): CandidateExplanation[] => [];

export interface Pick {
  poolId: string;
  model: string;
  version: string | undefined;
  /** Registered in the registry (history is recorded). */
  registered: boolean;
  selection: SelectionInfo;
  /** Who serves it: 'local' (a GGUF in process), 'onnx', or the remote provider ('openai', 'ollama', ...). Costs and budgets are kept by it. */
  provider: string;
  /** A remote model's own name (what the price table prices). */
  remoteModel?: string;
}

/** Sets the provider of a registered version, and a remote model's own name, on `pick`. */
function servedBy(pick: Pick, resolved: ResolvedModel | undefined): Pick {
  const source = resolved?.version.source;
  if (source === undefined || source.kind === 'gguf') return pick;
  if (source.kind === 'onnx') {
    pick.provider = 'onnx';
    return pick;
  }
  pick.provider = source.kind;
  pick.remoteModel = source.model;
  return pick;
}

/** The pick of a selection's candidate (its list entry, when the registry still has it). Built field by field: once per request. */
function candidatePick(modelId: string, version: string, entry: CandidateEntry | undefined, selection: SelectionInfo): Pick {
  const pick: Pick = { poolId: entry?.poolId ?? modelId, model: modelId, version, registered: entry !== undefined, provider: 'local', selection };
  return servedBy(pick, entry?.resolved);
}

export class Picker {
  readonly #registry: ModelRegistry;
  readonly #selector: Selector;
  readonly #candidates: CandidateSource;

  constructor(registry: ModelRegistry, selector: Selector, candidates: CandidateSource) {
    this.#registry = registry;
    this.#selector = selector;
    this.#candidates = candidates;
  }

  /**
   * The registered model and version a request names: by id or alias (and `version`), or as the pool
   * names a version other than the default, `id@version`; undefined for a name the registry does not know.
   */
  #resolveNamed(name: string, version: string | undefined): ResolvedModel | undefined {
    if (this.#registry.has(name)) return this.#registry.resolve(name, version);
    const at = name.lastIndexOf('@');
    if (version !== undefined || at <= 0 || !this.#registry.has(name.slice(0, at))) return undefined;
    return this.#registry.resolve(name.slice(0, at), name.slice(at + 1));
  }

  pick(route: Route): Pick {
    if (route.model !== undefined) {
      const resolved = this.#resolveNamed(route.model, route.version);
      if (resolved === undefined) {
        if (route.version !== undefined) throw new ModelpoolError('MODEL_NOT_FOUND', `No registered model "${route.model}"`, { field: 'request.model', value: route.model });
        return { poolId: route.model, model: route.model, version: undefined, registered: false, provider: 'local', selection: { mode: 'named', task: route.task, candidates: NAMED_EXPLANATION } };
      }
      // Built field by field (no spreads): this runs once per request.
      const pick: Pick = {
        poolId: poolId(resolved.model, resolved.version.version),
        model: resolved.model.id,
        version: resolved.version.version,
        registered: true,
        provider: 'local',
        selection: { mode: 'named', task: route.task, candidates: NAMED_EXPLANATION },
      };
      return servedBy(pick, resolved);
    }
    const list = this.#candidates.forTask(route.task);
    const selection = this.#selector.select({ task: route.task, constraints: route.constraints, objective: route.objective, context: route.context }, list.candidates);
    // The list's entries and candidates stand in the same order.
    return candidatePick(selection.modelId, selection.version, list.entries[selection.index], {
      mode: 'selected',
      task: route.task,
      contextKey: selection.contextKey,
      explored: selection.explored,
      score: selection.score,
      candidates: () => selection.candidates(),
    });
  }

  /** The models to fall back to after `first`: a named model's chain, or a selection's next-best candidates. */
  fallbacks(route: Route, first: Pick, chains: ReadonlyMap<string, string[]>, selectedFallbacks: number): Pick[] {
    const out: Pick[] = [];
    const seen = new Set([first.poolId]);
    const add = (pick: Pick | undefined) => {
      if (pick === undefined || seen.has(pick.poolId)) return;
      seen.add(pick.poolId);
      out.push(pick);
    };
    if (first.selection.mode === 'named') {
      const chain = chains.get(route.model!) ?? chains.get(first.model) ?? [];
      for (const name of chain) add(this.#tryPick({ ...route, model: name, version: undefined }));
      return out;
    }
    const ranked = first.selection
      .candidates()
      .filter((c) => c.eligible && !c.chosen && c.score !== undefined)
      .sort((a, b) => b.score! - a.score!)
      .slice(0, selectedFallbacks);
    for (const c of ranked) {
      add(candidatePick(c.modelId, c.version, this.#candidates.entry(c.modelId, c.version), { ...first.selection, explored: false, score: c.score! }));
    }
    return out;
  }

  /** pick(), or undefined for a fallback name that no longer resolves. */
  #tryPick(route: Route): Pick | undefined {
    try {
      return this.pick(route);
    } catch {
      return undefined;
    }
  }
}
