/**
 * The runtime: what connects the rooms below it. For now the registry bridge (the pool loads
 * registered models and mirrors its lifecycle into the registry); the request pipeline comes here.
 */
export { registryResolver, mirrorLifecycle, swapToVersion, specFromResolved, type SpecDefaults } from './registry-bridge.js';
