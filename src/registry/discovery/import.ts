import { realpath } from 'node:fs/promises';
import { plainObject } from '../../validate.js';
import * as input from '../input.js';
import { inspectSource } from '../inspectors.js';
import type { RegistryState } from '../state.js';
import type { LocalModelMetadata, ModelSource, ResolvedModel, Task, VersionInput } from '../types.js';
import { registerModel, registerVersion } from '../writes.js';
import { scanForModels, type DiscoveryOptions, type DiscoverySkip, type ScanResult } from './scan.js';

/**
 * Discovery's second half: registers what the scan (scan.ts) found, behind
 * {@link ModelRegistry.discover}. A file already registered (same real path) is reported as
 * existing; a file named like a known model becomes a new version of it; anything that fails is
 * reported as skipped with the reason, never thrown.
 */

export interface DiscoveryReport {
  /** Newly registered (new models, or new versions of models found before under the same name). */
  registered: ResolvedModel[];
  /** Files already registered (same path). */
  existing: ResolvedModel[];
  /** Files not registered, with the reason (unreadable or invalid GGUF, split parts, projectors...). */
  skipped: DiscoverySkip[];
  scanned: ScanResult['scanned'];
}

const EMBEDDING_ARCHITECTURES = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 'modern-bert', 'neo-bert', 'eurobert', 't5encoder']);

function guessTasks(metadata: LocalModelMetadata): Task[] {
  if (metadata.architecture !== undefined && EMBEDDING_ARCHITECTURES.has(metadata.architecture)) return ['embedding'];
  return metadata.hasChatTemplate ? ['chat', 'completion'] : ['completion'];
}

async function realpathOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}

/** `base`, or `base-2`, `base-3`... : the first name no model holds. */
function uniqueId(state: RegistryState, base: string): string {
  if (!state.byName.has(base)) return base;
  for (let suffix = 2; ; suffix++) {
    const id = `${base.slice(0, 120)}-${suffix}`;
    if (!state.byName.has(id)) return id;
  }
}

export async function importDiscovered(state: RegistryState, options: DiscoveryOptions): Promise<DiscoveryReport> {
  state.assertOpen();
  const tags = input.labels('options.tags', plainObject('options', options).tags ?? ['discovered']);
  const scan = await scanForModels(options);
  const report: DiscoveryReport = { registered: [], existing: [], skipped: [...scan.skipped], scanned: scan.scanned };
  await state.refresh();
  const resolve = (name: string, version?: string): ResolvedModel => {
    state.beforeRead();
    return state.resolve(name, version);
  };
  const known = new Map<string, ResolvedModel>();
  for (const entry of state.byId.values()) {
    for (const resolved of entry.resolved.values()) {
      if (input.isLocalSource(resolved.version.source)) known.set(await realpathOrSelf(resolved.version.source.path), resolved);
    }
  }
  for (const file of scan.found) {
    const real = await realpathOrSelf(file.path);
    const existing = known.get(real);
    if (existing !== undefined) {
      report.existing.push(existing);
      continue;
    }
    try {
      const source: ModelSource = { kind: 'gguf', path: file.path };
      const metadata = await inspectSource(state.inspectors, source, 'source.path');
      const version: VersionInput = { version: file.version, source, metadata };
      const owner = file.alias === undefined ? undefined : state.byName.get(file.alias);
      let resolved: ResolvedModel;
      if (owner !== undefined) {
        const added = await registerVersion(state, owner.model.id, version);
        resolved = resolve(owner.model.id, added.version);
      } else {
        const id = uniqueId(state, file.id);
        const aliases = file.alias !== undefined && file.alias !== id && !state.byName.has(file.alias) ? [file.alias] : [];
        await registerModel(state, { id, aliases, tasks: guessTasks(metadata), tags, version });
        resolved = resolve(id);
      }
      report.registered.push(resolved);
      known.set(real, resolved);
    } catch (error) {
      report.skipped.push({ origin: file.origin, path: file.path, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return report;
}
