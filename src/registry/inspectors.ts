import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { GgufInspection } from '../engine/types.js';
import { invalidArgument, isModelpoolError, ModelpoolError } from '../errors.js';
import { isLocalSource } from './input.js';
import type { LocalModelMetadata, LocalSourceKind, ModelSource, VersionInput } from './types.js';

/** Reads what a local model file is. Throws (any error) when the file is not a model of its kind. */
export type SourceInspector = (path: string) => Promise<LocalModelMetadata>;

/** The inspector of each local source kind. */
export type SourceInspectors = Record<LocalSourceKind, SourceInspector>;

export type GgufInspect = (path: string) => Promise<GgufInspection>;

/** The registry's view of a GGUF inspection. */
export function fromGgufInspection(inspection: GgufInspection): LocalModelMetadata {
  const metadata: LocalModelMetadata = {
    format: 'gguf',
    sizeBytes: inspection.fileSize,
    architecture: inspection.architecture,
    parameterCount: inspection.parameterCount,
    quantization: inspection.quantization,
    fileType: inspection.fileType,
    contextLength: inspection.contextLength,
    layers: inspection.layers,
    heads: inspection.heads,
    kvHeads: inspection.kvHeads,
    embeddingSize: inspection.embeddingSize,
    keyLength: inspection.keyLength,
    valueLength: inspection.valueLength,
    hasChatTemplate: inspection.chatTemplate !== undefined && inspection.chatTemplate.length > 0,
  };
  if (inspection.name !== undefined) metadata.name = inspection.name;
  if (inspection.expertCount !== undefined) metadata.expertCount = inspection.expertCount;
  return metadata;
}

/**
 * A GGUF inspector over `inspect` (or another function of its shape). The default is the pure
 * TypeScript GGUF reader (src/gguf): it reads the header without the
 * native addon, so the registry never depends on the native engine (test/registry/rooms.test.ts
 * keeps it so). It is imported when first needed, so that a registry of remote models never loads it.
 */
export function ggufInspector(inspect?: GgufInspect): SourceInspector {
  return async (path) => {
    const run = inspect ?? (await import('../gguf/inspect.js')).inspect;
    return fromGgufInspection(await run(path));
  };
}

/** For formats without a reader yet (ONNX): the file's size only. */
export function fileSizeInspector(format: string): SourceInspector {
  return async (path) => ({ format, sizeBytes: (await stat(path)).size });
}

export function defaultInspectors(): SourceInspectors {
  return { gguf: ggufInspector(), onnx: fileSizeInspector('onnx') };
}

/** Makes a local path absolute and reads the file's metadata (unless given). */
export async function prepareVersion(inspectors: SourceInspectors, version: VersionInput, field: string): Promise<VersionInput> {
  if (!isLocalSource(version.source)) return version;
  const source = { ...version.source, path: resolvePath(version.source.path) };
  const metadata = version.metadata ?? (await inspectSource(inspectors, source, `${field}source.path`));
  return { ...version, source, metadata };
}

/**
 * Reads a local model file with the inspector of its kind. A missing file or a folder is
 * INVALID_ARGUMENT naming `field`; a file its inspector refuses is INVALID_GGUF for GGUF (or the
 * inspector's own typed code), INVALID_ARGUMENT otherwise.
 */
export async function inspectSource(inspectors: SourceInspectors, source: Extract<ModelSource, { path: string }>, field: string): Promise<LocalModelMetadata> {
  const path = source.path;
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    const failure = invalidArgument(field, `an existing ${source.kind} file`, path);
    failure.message += ` (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`;
    throw failure;
  }
  if (!isFile) throw invalidArgument(field, `a ${source.kind} file, not a folder`, path);
  try {
    return await inspectors[source.kind](path);
  } catch (error) {
    const code = isModelpoolError(error) && error.code !== 'INVALID_ARGUMENT' ? error.code : source.kind === 'gguf' ? 'INVALID_GGUF' : 'INVALID_ARGUMENT';
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelpoolError(code, `${field} ${path} is not a readable ${source.kind} model: ${reason}`, { field, value: path, cause: error });
  }
}
