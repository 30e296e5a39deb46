import { invalidArgument, ModelpoolError } from '../errors.js';
import { nonEmptyString, optionalInteger } from '../validate.js';
import { defaultThreads } from './convert.js';
import { native } from './native.js';

/**
 * llama_ftype values (include/llama.h) of the types the quantizer writes. The K-quant "_M" mixes keep
 * a few tensors at a higher type, as llama-quantize does. IQ4_NL needs no importance matrix.
 */
const FTYPES = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q4_K_M: 15, Q5_K_M: 17, Q6_K: 18, IQ4_NL: 25, BF16: 32 } as const;
export type QuantizeType = keyof typeof FTYPES;

/** Writes `output` as `input` re-encoded to `type` with llama.cpp's quantizer (off the JavaScript thread). */
export async function quantizeModel(
  input: string,
  output: string,
  type: QuantizeType,
  options: { threads?: number } = {},
): Promise<void> {
  nonEmptyString('input', input);
  nonEmptyString('output', output);
  if (!(type in FTYPES)) throw invalidArgument('type', `one of ${Object.keys(FTYPES).join(', ')}`, type);
  const threads = optionalInteger('options.threads', options.threads, 1, 1024) ?? defaultThreads();
  try {
    await native().quantize(input, output, FTYPES[type], threads);
  } catch (error) {
    throw new ModelpoolError('LOAD_FAILED', (error as Error).message, { cause: error });
  }
}
