import * as jose from 'jose';
import { z } from 'zod';
import {
  type Operation,
  VALET_KEY_ALG,
  VALET_KEY_TYP,
  type ValetClaims,
  valetClaimsSchema,
} from './claims.js';
import { signEd25519 } from './ed25519.js';
import { ValetError } from './errors.js';
import type { SigningKey } from './keys.js';
import { encodeObjectKeyPath, normalizeObjectKey } from './object-key.js';

/** The query parameter that carries a valet key in a URL. */
export const KEY_QUERY_PARAM = 'vk';

/** What to mint: the scope, the lifetime and the constraints of one valet key. */
export interface MintOptions {
  /** The one operation the key allows. */
  op: Operation;
  /** The object key; normalised with the storage naming rules. */
  object: string;
  /** Who the key is for (opaque; recorded by storage for audit). */
  subject: string;
  /** Lifetime in seconds, from `now`. */
  ttl: number;
  /** Seconds from `now` before the key becomes valid. Default 0. */
  notBefore?: number;
  /** Key id; default 128 random bits, base64url. Fixed only in known-answer tests. */
  jti?: string;
  /** Optional issuer name, for audit. */
  issuer?: string;
  /** put: largest body in bytes. */
  maxSize?: number;
  /** put: smallest body in bytes. */
  minSize?: number;
  /** put: exact body size in bytes. */
  size?: number;
  /** put: allowed media types, exact or `type/*`. */
  contentTypes?: readonly string[];
  /** put: SHA-256 of the body, hex. */
  sha256?: string;
  /** put: create-only. */
  noOverwrite?: boolean;
  /** Single use. */
  once?: boolean;
  /** put: the key creates one resumable upload (its id is the key's `jti`). */
  resumable?: boolean;
  /** put: the key continues the resumable upload with this id. */
  upload?: string;
  /** put: storage holds the version unreadable until the issuer publishes it (validation). */
  hold?: boolean;
  /** get/head: may read a held version (the issuer's validators). */
  held?: boolean;
  /** publish: the key id of the version to publish. */
  version?: string;
  /** get/head: download file name. */
  filename?: string;
  /** get/head: serve inline (`true`) or as a download (`false`); absent: by content type. */
  inline?: boolean;
  /**
   * The oldest, in seconds, storage's revocation list may be when the key is used (claim `rev`):
   * a revocation takes effect within it, and storage serves the key through an issuer outage that
   * long (for its whole life if it lives no longer). Absent: storage's own bound (5 s by default).
   */
  revocationStaleness?: number;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Lifetimes above this are refused at minting; storage caps them lower (1 hour by default). */
export const MAX_MINT_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Mints a valet key: a compact JWS (EdDSA) with `typ: valet-key+jwt` and the signing key's `kid`.
 * Throws `invalid_options` for a key that storage would refuse anyway (bad object key,
 * inconsistent constraints, a constraint on the wrong operation).
 *
 * @example
 * ```ts
 * const token = await mintValetKey(signingKey, { op: 'put', object: 'users/alice/cat.png',
 *   subject: 'alice', ttl: 300, maxSize: 10_000_000, contentTypes: ['image/*'], once: true })
 * ```
 */
export async function mintValetKey(signingKey: SigningKey, options: MintOptions): Promise<string> {
  return signClaims(signingKey, buildClaims(options));
}

/**
 * Signs claims made by {@link buildClaims}: the valet key's compact JWS, exactly the bytes
 * jose's `SignJWT` makes for this header and these claims (the known-answer vectors check it),
 * signed with the raw Ed25519 primitive (see `ed25519.ts`).
 */
export async function signClaims(signingKey: SigningKey, claims: ValetClaims): Promise<string> {
  const input = `${protectedHeader(signingKey)}.${jose.base64url.encode(JSON.stringify(claims))}`;
  const signature = await signEd25519(signingKey.privateKey, encoder.encode(input));
  return `${input}.${jose.base64url.encode(signature)}`;
}

const encoder = new TextEncoder();
const headers = new WeakMap<SigningKey, string>();

/** The encoded protected header of every key `signingKey` signs, made once per signing key. */
function protectedHeader(signingKey: SigningKey): string {
  let header = headers.get(signingKey);
  if (header === undefined) {
    const fields = { alg: VALET_KEY_ALG, typ: VALET_KEY_TYP, kid: signingKey.kid };
    header = jose.base64url.encode(JSON.stringify(fields));
    headers.set(signingKey, header);
  }
  return header;
}

/** Builds and checks the claims {@link mintValetKey} signs. */
export function buildClaims(options: MintOptions): ValetClaims {
  if (!Number.isInteger(options.ttl) || options.ttl < 1 || options.ttl > MAX_MINT_TTL_SECONDS) {
    throw new ValetError(
      'invalid_options',
      `ttl must be a whole number of seconds from 1 to ${MAX_MINT_TTL_SECONDS}`,
    );
  }
  const nbfOffset = options.notBefore ?? 0;
  if (!Number.isInteger(nbfOffset) || nbfOffset < 0) {
    throw new ValetError('invalid_options', 'notBefore must be a whole number of seconds, 0 or more');
  }
  let obj: string;
  try {
    obj = normalizeObjectKey(options.object);
  } catch (cause) {
    throw new ValetError('invalid_options', `invalid object key: ${(cause as Error).message}`, { cause });
  }
  const iat = Math.floor((options.now ?? Date.now)() / 1000);
  const nbf = iat + nbfOffset;
  // Property order is fixed so that known-answer vectors stay byte-identical.
  const draft = {
    op: options.op,
    obj,
    sub: options.subject,
    ...(options.issuer !== undefined && { iss: options.issuer }),
    ...(options.maxSize !== undefined && { max_size: options.maxSize }),
    ...(options.minSize !== undefined && { min_size: options.minSize }),
    ...(options.size !== undefined && { size: options.size }),
    ...(options.contentTypes !== undefined && {
      content_types: options.contentTypes.map((t) => t.toLowerCase()),
    }),
    ...(options.sha256 !== undefined && { sha256: options.sha256.toLowerCase() }),
    ...(options.noOverwrite && { no_overwrite: true }),
    ...(options.once && { once: true }),
    ...(options.resumable && { resumable: true as const }),
    ...(options.upload !== undefined && { upload: options.upload }),
    ...(options.hold && { hold: true as const }),
    ...(options.held && { held: true as const }),
    ...(options.version !== undefined && { version: options.version }),
    ...(options.filename !== undefined && { filename: options.filename }),
    ...(options.inline !== undefined && { inline: options.inline }),
    ...(options.revocationStaleness !== undefined && { rev: options.revocationStaleness }),
    iat,
    nbf,
    exp: nbf + options.ttl,
    jti: options.jti ?? randomKeyId(),
  };
  const parsed = valetClaimsSchema.safeParse(draft);
  if (!parsed.success) {
    throw new ValetError('invalid_options', `cannot mint this key: ${z.prettifyError(parsed.error)}`);
  }
  return draft as ValetClaims;
}

// Random bytes are drawn from the CSPRNG 4 KiB at a time: one call per 256 key ids instead of
// one each (getRandomValues has a fixed cost per call that shows when minting thousands a second).
let pool = new Uint8Array(0);
let poolOffset = 0;

/** 128 random bits, base64url. */
export function randomKeyId(): string {
  if (poolOffset + 16 > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(4096));
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  return jose.base64url.encode(bytes);
}

/**
 * The URL a client uses with a key: `<storage>/o/<encoded object key>?vk=<token>`.
 *
 * @example
 * ```ts
 * keyUrl('http://127.0.0.1:9000', 'users/alice/a b.txt', token)
 * // 'http://127.0.0.1:9000/o/users/alice/a%20b.txt?vk=eyJ…'
 * ```
 */
export function keyUrl(storageUrl: string, object: string, token: string): string {
  const base = storageUrl.endsWith('/') ? storageUrl.slice(0, -1) : storageUrl;
  return `${base}${objectPath(object)}?${KEY_QUERY_PARAM}=${token}`;
}

/** The URL path of an object on Valet storage: `/o/<encoded object key>`. */
export function objectPath(object: string): string {
  return `/o/${encodeObjectKeyPath(normalizeObjectKey(object))}`;
}
