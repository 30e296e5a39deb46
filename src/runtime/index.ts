/**
 * The runtime: what connects the rooms below it. The front door (admission, selection, pool lease,
 * cost, history, judging) and the registry bridge (the pool loads registered models and mirrors its
 * lifecycle into the registry).
 */
export { registryResolver, versionedResolver, mirrorLifecycle, swapToVersion, specFromResolved, type SpecDefaults } from './registry-bridge.js';
export {
  FrontDoor,
  type FrontDoorOptions,
  type FrontDoorRequest,
  type FrontDoorResult,
  type FrontDoorStream,
  type EmbedRequest,
  type EmbedResult,
  type RouteOptions,
  type Routed,
  type SelectionInfo,
} from './front-door.js';
export { Admission, type AdmissionOptions } from './admission.js';
export { poolId, type CandidateSourceOptions } from './candidates.js';
export type { JudgedEvent, JudgingOptions, RequestEvent } from './recorder.js';
export { promptLength } from './route.js';
