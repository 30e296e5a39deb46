/**
 * Security: API keys at rest, redaction, rate limits and caller keys. Secrets travel as `Secret`, which
 * renders `[redacted]` everywhere but `reveal()`; a `KeyStore` keeps providers' API keys encrypted
 * (AES-256-GCM) in one file; a `Redactor` scrubs known secrets and bearer tokens from log lines and
 * errors; a `RateLimiter` holds token buckets per caller, tenant and model; `CallerKeys` issues and
 * verifies scoped keys for the HTTP server. Uses only node:crypto and node:fs.
 */
export { REDACTED, Secret, invalidSecret } from './secret.js';
export { KeyStore, type KeyStoreOptions, type KeyEntryStatus } from './keystore.js';
export type { MasterKeyOptions } from './keystore-crypto.js';
export { Redactor, redact, redactHeaders, SENSITIVE_HEADERS, SENSITIVE_FIELDS, MIN_REDACTED_LENGTH, type RedactorOptions, type HeadersLike } from './redact.js';
export { RateLimiter, type RateLimitHit, type RateDecision, type RateLimitPart } from './rate-limit.js';
export type { RateLimit, RateLimiterOptions, RateRequest, RateScope, CheckedLimit } from './rate-limit-checks.js';
export { CallerKeys, CALLER_SCOPES, type Caller, type CallerKeyInfo, type CallerKeysOptions, type CallerScope, type CreateCallerKey } from './caller-keys.js';
