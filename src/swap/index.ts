/**
 * `modelpool/swap`, kept for the imports users already have: the swap manager lives in src/pool/swap/
 * and the reference-counted slot in src/core/ref-slot.ts.
 */
export { ReferenceSlot, type SlotReference, type SlotReplacement } from '../core/ref-slot.js';
export * from '../pool/swap/index.js';
