/**
 * `valet/token`: the valet key format. Mint, verify, key sets, claims and object-key rules.
 * No I/O: callers load keys and pass clocks.
 *
 * @example
 * ```ts
 * import { generateSigningJwk, importSigningKey, mintValetKey, keyUrl } from 'valet/token'
 * const key = await importSigningKey(await generateSigningJwk())
 * const token = await mintValetKey(key, { op: 'get', object: 'docs/a.pdf', subject: 'alice', ttl: 300 })
 * console.log(keyUrl('http://127.0.0.1:9000', 'docs/a.pdf', token))
 * ```
 */
export {
  contentTypeAllowed,
  isMediaRange,
  mediaTypeEssence,
  OPERATIONS,
  type Operation,
  VALET_KEY_ALG,
  VALET_KEY_TYP,
  type ValetClaims,
  valetClaimsSchema,
} from './claims.js';
export {
  codeForStatus,
  ERROR_STATUS,
  type ErrorCode,
  httpStatus,
  isValetError,
  ValetError,
} from './errors.js';
export {
  generateSigningJwk,
  importSigningKey,
  type JwkSet,
  type KeyResolver,
  type PrivateSigningJwk,
  type PublicSigningJwk,
  publicJwk,
  type SigningKey,
  TrustedKeys,
} from './keys.js';
export {
  buildClaims,
  KEY_QUERY_PARAM,
  keyUrl,
  MAX_MINT_TTL_SECONDS,
  type MintOptions,
  mintValetKey,
  objectPath,
  randomKeyId,
  signClaims,
} from './mint.js';
export {
  decodeObjectKeyPath,
  encodeObjectKeyPath,
  isCanonicalObjectKey,
  MAX_OBJECT_KEY_BYTES,
  MAX_SEGMENT_BYTES,
  normalizeObjectKey,
  utf8Length,
} from './object-key.js';
export {
  DEFAULT_CLOCK_SKEW,
  DEFAULT_MAX_LIFETIME,
  MAX_TOKEN_LENGTH,
  type VerifiedKey,
  type VerifyOptions,
  verifyValetKey,
  verifyValetKeyWithKey,
} from './verify.js';
