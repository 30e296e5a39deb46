import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { invalidArgument } from '../../errors.js';
import { integer, nonEmptyString, plainObject } from '../../validate.js';
import { ALIAS_PATTERN, MODEL_ID_PATTERN, VERSION_PATTERN } from '../input.js';

/**
 * Finding model files already on the machine: Ollama's store, LM Studio's and node-llama-cpp's
 * folders, the Hugging Face hub cache and any folder of .gguf files. Scanning only reads
 * directories and Ollama manifests; the registry inspects and registers what is found.
 */

export type DiscoveryOrigin = 'ollama' | 'lm-studio' | 'huggingface' | 'node-llama-cpp' | 'directory';

export interface DiscoveryOptions {
  /** Ollama's models folder. Default $OLLAMA_MODELS or ~/.ollama/models. `false` skips it. */
  ollama?: string | false;
  /** LM Studio's models folders. Default ~/.lmstudio/models and the legacy ~/.cache/lm-studio/models. */
  lmStudio?: string[] | false;
  /** The Hugging Face hub cache. Default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  huggingFace?: string | false;
  /** node-llama-cpp's models folder. Default ~/.node-llama-cpp/models. */
  nodeLlamaCpp?: string | false;
  /** More folders of .gguf files, scanned recursively. */
  directories?: string[];
  /** Folder depth scanned below each root. Default 4. */
  maxDepth?: number;
  /** Base of the default paths. Default os.homedir(). */
  homeDir?: string;
  /** Environment read for the default paths. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Tags given to newly registered models. Default ["discovered"]. */
  tags?: string[];
}

/** A model file found on disk, with the names the registry will give it. */
export interface DiscoveredFile {
  origin: DiscoveryOrigin;
  /** Absolute path of the weights (for Ollama, the blob). */
  path: string;
  /** Suggested model id (made unique when registering). */
  id: string;
  version: string;
  /**
   * A stable name from the origin ("llama3:8b", "org/repo/file"): a file found again under the same
   * name with a new version becomes a new version of the same model.
   */
  alias?: string;
}

export interface DiscoverySkip {
  origin: DiscoveryOrigin;
  path: string;
  reason: string;
}

export interface ScanResult {
  found: DiscoveredFile[];
  skipped: DiscoverySkip[];
  /** Roots that were scanned (missing ones are not listed and are not errors). */
  scanned: Array<{ origin: DiscoveryOrigin; path: string }>;
}

const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';
const SPLIT_PART = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** Lower-case, with anything outside the pattern's characters turned into '-'. */
function slug(text: string, allowed: RegExp, maxLength: number): string {
  const cleaned = text
    .toLowerCase()
    .replace(allowed, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/-+$/, '');
  return cleaned.slice(0, maxLength);
}

function suggestId(text: string): string {
  const id = slug(text, /[^a-z0-9._-]/g, 120);
  return MODEL_ID_PATTERN.test(id) ? id : 'model';
}

function suggestAlias(text: string): string | undefined {
  const name = slug(text, /[^a-z0-9._:/-]/g, 128);
  return ALIAS_PATTERN.test(name) ? name : undefined;
}

function suggestVersion(text: string): string {
  const version = slug(text, /[^a-z0-9._+-]/g, 64);
  return VERSION_PATTERN.test(version) ? version : 'local';
}

function stem(path: string): string {
  return basename(path).replace(/\.gguf$/i, '');
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function entries(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Why a .gguf file is not a model to register on its own, if it is not. */
function notAModel(path: string): string | undefined {
  const name = basename(path);
  const part = SPLIT_PART.exec(name);
  if (part !== null && Number(part[1]) !== 1) return `part ${Number(part[1])} of a split model (only part 1 is registered)`;
  if (/mmproj/i.test(name)) return 'a multimodal projector, not a model';
  return undefined;
}

/** .gguf files under `root`, at most `maxDepth` folders down; hidden folders and node_modules are skipped. */
async function ggufFiles(root: string, maxDepth: number): Promise<string[]> {
  const files: string[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    for (const entry of await entries(folder)) {
      const path = join(folder, entry.name);
      let isFile = entry.isFile();
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        try {
          const target = await stat(path);
          isFile = target.isFile();
          isDir = target.isDirectory();
        } catch {
          continue; // a dangling link
        }
      }
      if (isFile && entry.name.toLowerCase().endsWith('.gguf')) files.push(path);
      else if (isDir && depth < maxDepth && !entry.name.startsWith('.') && entry.name !== 'node_modules') await walk(path, depth + 1);
    }
  };
  await walk(root, 0);
  return files.sort();
}

function fileCandidates(origin: DiscoveryOrigin, files: string[], result: ScanResult, name: (path: string) => Omit<DiscoveredFile, 'origin' | 'path'>): void {
  for (const path of files) {
    const reason = notAModel(path);
    if (reason !== undefined) result.skipped.push({ origin, path, reason });
    else result.found.push({ origin, path, ...name(path) });
  }
}

async function scanOllama(root: string, result: ScanResult): Promise<void> {
  const manifests = join(root, 'manifests');
  if (!(await isDirectory(manifests))) return;
  result.scanned.push({ origin: 'ollama', path: root });
  for (const registry of await entries(manifests)) {
    for (const namespace of await entries(join(manifests, registry.name))) {
      for (const model of await entries(join(manifests, registry.name, namespace.name))) {
        for (const tag of await entries(join(manifests, registry.name, namespace.name, model.name))) {
          const manifestPath = join(manifests, registry.name, namespace.name, model.name, tag.name);
          await ollamaManifest(root, manifestPath, [registry.name, namespace.name, model.name, tag.name], result);
        }
      }
    }
  }
}

async function ollamaManifest(root: string, manifestPath: string, [registry, namespace, model, tag]: string[], result: ScanResult): Promise<void> {
  let layer: { digest?: unknown } | undefined;
  try {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { layers?: Array<{ mediaType?: unknown; digest?: unknown }> };
    layer = manifest.layers?.find((candidate) => candidate.mediaType === OLLAMA_MODEL_LAYER);
  } catch (error) {
    result.skipped.push({ origin: 'ollama', path: manifestPath, reason: `unreadable manifest: ${(error as Error).message}` });
    return;
  }
  const digest = typeof layer?.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(layer.digest)?.[1] : undefined;
  if (digest === undefined) {
    result.skipped.push({ origin: 'ollama', path: manifestPath, reason: `no ${OLLAMA_MODEL_LAYER} layer with a sha256 digest` });
    return;
  }
  const blob = join(root, 'blobs', `sha256-${digest}`);
  try {
    await stat(blob);
  } catch {
    result.skipped.push({ origin: 'ollama', path: manifestPath, reason: `blob ${blob} is missing` });
    return;
  }
  const isLibrary = registry === 'registry.ollama.ai' && namespace === 'library';
  const name = isLibrary ? model! : registry === 'registry.ollama.ai' ? `${namespace}/${model}` : `${registry}/${namespace}/${model}`;
  const candidate: DiscoveredFile = {
    origin: 'ollama',
    path: blob,
    id: suggestId(tag === 'latest' ? name.replaceAll('/', '-') : `${name.replaceAll('/', '-')}-${tag}`),
    version: `sha256-${digest.slice(0, 12)}`,
  };
  const alias = suggestAlias(`${name}:${tag}`);
  if (alias !== undefined) candidate.alias = alias;
  result.found.push(candidate);
}

/** `<root>/<publisher>/<repo>/<file>.gguf` (deeper files are found too, named by their path). */
async function scanLmStudio(root: string, maxDepth: number, result: ScanResult): Promise<void> {
  if (!(await isDirectory(root))) return;
  result.scanned.push({ origin: 'lm-studio', path: root });
  fileCandidates('lm-studio', await ggufFiles(root, maxDepth), result, (path) => {
    const parts = relative(root, path).split(sep);
    const named: Omit<DiscoveredFile, 'origin' | 'path'> = { id: suggestId(stem(path)), version: 'local' };
    const alias = parts.length >= 3 ? suggestAlias(`${parts[0]}/${parts[1]}/${stem(path)}`) : undefined;
    if (alias !== undefined) named.alias = alias;
    return named;
  });
}

/** `<hub>/models--<org>--<name>/snapshots/<revision>/**.gguf`; each revision is a version. */
async function scanHuggingFace(root: string, maxDepth: number, result: ScanResult): Promise<void> {
  if (!(await isDirectory(root))) return;
  result.scanned.push({ origin: 'huggingface', path: root });
  for (const repo of await entries(root)) {
    if (!repo.name.startsWith('models--')) continue;
    const [org, ...rest] = repo.name.slice('models--'.length).split('--');
    const snapshots = join(root, repo.name, 'snapshots');
    for (const revision of await entries(snapshots)) {
      const folder = join(snapshots, revision.name);
      fileCandidates('huggingface', await ggufFiles(folder, maxDepth), result, (path) => {
        const named: Omit<DiscoveredFile, 'origin' | 'path'> = { id: suggestId(stem(path)), version: suggestVersion(revision.name.slice(0, 12)) };
        const alias = suggestAlias(`${org}/${rest.join('--')}/${relative(folder, path).replace(/\.gguf$/i, '')}`);
        if (alias !== undefined) named.alias = alias;
        return named;
      });
    }
  }
}

async function scanDirectory(origin: DiscoveryOrigin, root: string, maxDepth: number, result: ScanResult): Promise<void> {
  if (!(await isDirectory(root))) return;
  result.scanned.push({ origin, path: root });
  fileCandidates(origin, await ggufFiles(root, maxDepth), result, (path) => ({ id: suggestId(stem(path)), version: 'local' }));
}

/** Default roots, from the home folder and the environment. */
export function defaultDiscoveryPaths(options: Pick<DiscoveryOptions, 'homeDir' | 'env'> = {}): {
  ollama: string;
  lmStudio: string[];
  huggingFace: string;
  nodeLlamaCpp: string;
} {
  const home = options.homeDir ?? homedir();
  const env = options.env ?? process.env;
  return {
    ollama: env.OLLAMA_MODELS || join(home, '.ollama', 'models'),
    lmStudio: [join(home, '.lmstudio', 'models'), join(home, '.cache', 'lm-studio', 'models')],
    huggingFace: env.HF_HUB_CACHE || (env.HF_HOME ? join(env.HF_HOME, 'hub') : join(home, '.cache', 'huggingface', 'hub')),
    nodeLlamaCpp: join(home, '.node-llama-cpp', 'models'),
  };
}

function checkOptions(options: DiscoveryOptions): void {
  plainObject('options', options);
  const folder = (field: string, value: unknown): void => {
    if (value !== undefined && value !== false) nonEmptyString(field, value, 4096);
  };
  const folders = (field: string, value: unknown, allowFalse: boolean): void => {
    if (value === undefined || (allowFalse && value === false)) return;
    if (!Array.isArray(value)) throw invalidArgument(field, allowFalse ? 'an array of folders or false' : 'an array of folders', value);
    value.forEach((item, index) => nonEmptyString(`${field}[${index}]`, item, 4096));
  };
  folder('options.ollama', options.ollama);
  folders('options.lmStudio', options.lmStudio, true);
  folder('options.huggingFace', options.huggingFace);
  folder('options.nodeLlamaCpp', options.nodeLlamaCpp);
  folders('options.directories', options.directories, false);
  if (options.maxDepth !== undefined) integer('options.maxDepth', options.maxDepth, 0, 64);
  if (options.homeDir !== undefined) nonEmptyString('options.homeDir', options.homeDir, 4096);
}

/**
 * Scans every configured root. Missing roots are skipped silently; nothing here throws for a bad
 * file (bad options are INVALID_ARGUMENT).
 */
export async function scanForModels(options: DiscoveryOptions = {}): Promise<ScanResult> {
  checkOptions(options);
  const defaults = defaultDiscoveryPaths(options);
  const maxDepth = options.maxDepth ?? 4;
  const result: ScanResult = { found: [], skipped: [], scanned: [] };
  if (options.ollama !== false) await scanOllama(resolve(options.ollama ?? defaults.ollama), result);
  if (options.lmStudio !== false) for (const root of options.lmStudio ?? defaults.lmStudio) await scanLmStudio(resolve(root), maxDepth, result);
  if (options.huggingFace !== false) await scanHuggingFace(resolve(options.huggingFace ?? defaults.huggingFace), maxDepth, result);
  if (options.nodeLlamaCpp !== false) await scanDirectory('node-llama-cpp', resolve(options.nodeLlamaCpp ?? defaults.nodeLlamaCpp), maxDepth, result);
  for (const root of options.directories ?? []) await scanDirectory('directory', resolve(root), maxDepth, result);
  return result;
}
