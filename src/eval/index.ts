/**
 * The evaluation room: task suites (JSONL) with graders, a runner that sends each item through a target
 * and records quality in the performance history, and quantisation fidelity (top-1 agreement and KL
 * divergence of a quantised model against its reference).
 */
export { parseSuite, loadSuite } from './suite.js';
export { compileGrader, grade, firstNumber, tokenF1, rougeL, words } from './graders/index.js';
export { runSuite, recordQuality } from './runner.js';
export { measureFidelity } from './fidelity.js';
export { topKlDivergence } from './divergence.js';
export { quantizedVariant, DEFAULT_VARIANT_CACHE_DIR, type QuantizedVariantOptions } from './variants.js';
export type * from './types.js';
