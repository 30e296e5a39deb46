import { stat } from 'node:fs/promises';
import type { GgufInspection } from '../engine/types.js';
import type { LocalModelMetadata, LocalSourceKind } from './types.js';

/** Reads what a local model file is. Throws (any error) when the file is not a model of its kind. */
export type SourceInspector = (path: string) => Promise<LocalModelMetadata>;

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
 * A GGUF inspector over the engine's `inspect` (or another function of its shape). The engine is
 * imported when first needed, so that a registry of remote models never loads it.
 */
export function ggufInspector(inspect?: GgufInspect): SourceInspector {
  return async (path) => {
    const run = inspect ?? (await import('../engine/inspect.js')).inspect;
    return fromGgufInspection(await run(path));
  };
}

/** For formats without a reader yet (ONNX): the file's size only. */
export function fileSizeInspector(format: string): SourceInspector {
  return async (path) => ({ format, sizeBytes: (await stat(path)).size });
}

export function defaultInspectors(): Record<LocalSourceKind, SourceInspector> {
  return { gguf: ggufInspector(), onnx: fileSizeInspector('onnx') };
}
