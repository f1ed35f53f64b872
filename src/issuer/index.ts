/**
 * `valet/issuer`: the app side of the Valet Key pattern. Authenticates callers (your hook, or
 * OIDC/JWT bearer tokens), applies named rules and quotas, mints valet keys, records grants,
 * completions and revocations, and publishes the public keys and revocation list storage needs.
 *
 * @example
 * ```ts
 * import http from 'node:http'
 * import { createIssuer, toNodeListener } from 'valet/issuer'
 * const issuer = await createIssuer({
 *   signingKeys: [jwk], storageUrl: 'http://127.0.0.1:9000', storageSecret, database: 'issuer.sqlite',
 *   oidc: { issuer: 'https://id.example.com', audience: 'my-app' },
 *   rules: { upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 100 * 2 ** 20 } },
 * })
 * http.createServer(toNodeListener(issuer)).listen(8080, '127.0.0.1')
 * ```
 */
export type { Identity } from './auth/identity.js';
export { bearerToken, type OidcOptions, oidcAuthenticator } from './auth/oidc.js';
export { toNodeListener } from './http/node.js';
export {
  type CallerInfo,
  type CompletedUpload,
  createIssuer,
  type Issuer,
  type IssuerOptions,
  type KeyRequest,
  type MintedKey,
  type ShareLink,
} from './issuer.js';
export type { PostgresConnection } from './records/postgres-connect.js';
export { PostgresRecordStore, type PostgresRecordStoreOptions } from './records/postgres-records.js';
export type {
  EventOutcome,
  EventRecord,
  GrantConstraints,
  GrantRecord,
  KeyConstraints,
  ObjectRecord,
  Quota,
  RecordStore,
  ReserveResult,
  RevocationRecord,
  ShareRecord,
  StoreMultipart,
  Usage,
} from './records/records.js';
export { SqliteRecordStore, type SqliteRecordStoreOptions } from './records/sqlite-records.js';
export type {
  ValidationBacklog,
  ValidationQueue,
  ValidationRecord,
  ValidationStatus,
} from './records/validations.js';
export {
  type AuthorizeContext,
  DEFAULT_KEY_TTL,
  DEFAULT_SHARE_TTL,
  type Rule,
  type RuleContext,
  type RuleOperation,
  subjectSegment,
} from './rules.js';
export type { ValidationOptions } from './validation/options.js';
export type {
  OpenObject,
  ValidatedObject,
  ValidateHook,
  ValidatorSpec,
  ValidatorVerdict,
} from './validation/validators.js';
