import { z } from 'zod';
import { isCanonicalObjectKey } from './object-key.js';
import { storableText } from './text.js';

/**
 * The protected-header `typ` of every valet key (RFC 8725 §3.11 explicit typing): a verifier
 * refuses any other JWT, such as an OpenID Connect ID token, even if it is signed by a trusted key.
 */
export const VALET_KEY_TYP = 'valet-key+jwt';

/** The only signature algorithm of a valet key: Ed25519 (RFC 8037). */
export const VALET_KEY_ALG = 'EdDSA';

/** The one operation a valet key authorises. */
export type Operation = 'get' | 'head' | 'put' | 'delete' | 'publish';

/**
 * All operations, in a stable order. `publish` is the issuer's own: it makes a held version (an
 * upload under validation) readable on Valet storage; no rule ever mints it for a client.
 */
export const OPERATIONS: readonly Operation[] = ['get', 'head', 'put', 'delete', 'publish'];

// A media type essence or a `type/*` range, lower case (RFC 9110 §8.3.1 token characters).
const MEDIA_RANGE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The characters of a key id (`jti`), which is also a resumable upload's id. */
export const KEY_ID_CHARS = '[A-Za-z0-9_-]{16,128}';
/** A whole key id (`jti`) or upload id. */
export const KEY_ID = new RegExp(`^${KEY_ID_CHARS}$`);
const size = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const seconds = z
  .number()
  .int()
  .min(0)
  .max(2 ** 40);

/**
 * A download file name: 1 to 255 characters of Unicode text (no unpaired surrogate: it has no
 * UTF-8 form for `Content-Disposition`), no control characters, no slashes.
 */
export const FILENAME = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !/[\p{Cc}/\\]/u.test(s), 'filename may not contain control characters or slashes')
  .refine(storableText, 'filename must be Unicode text (it holds an unpaired surrogate)');

/**
 * The claims of a valet key. Names are short because a key often travels in a URL.
 *
 * | claim           | meaning                                                                    |
 * | --------------- | -------------------------------------------------------------------------- |
 * | `op`            | the one operation allowed: `get`, `head`, `put`, `delete`, or `publish`    |
 * |                 | (the issuer's own: makes a held version readable)                          |
 * | `obj`           | the exact object key (canonical NFC form)                                  |
 * | `sub`           | who the key was minted for (opaque to storage, kept for audit)             |
 * | `jti`           | unique key id (single-use ledger, audit, revocation)                       |
 * | `iat`/`nbf`/`exp` | issued at / not before / expires, seconds since the epoch                |
 * | `iss`           | optional: who minted the key (audit only)                                  |
 * | `max_size`      | put: largest body in bytes                                                 |
 * | `min_size`      | put: smallest body in bytes                                                |
 * | `size`          | put: exact body size in bytes                                              |
 * | `content_types` | put: allowed media types, exact (`image/png`) or a range (`image/*`)       |
 * | `sha256`        | put: SHA-256 of the body, lower-case hex                                   |
 * | `no_overwrite`  | put: create-only; refused if the object exists                             |
 * | `once`          | any op: single use                                                         |
 * | `resumable`     | put: creates one resumable (tus) upload, whose id is this key's `jti`      |
 * | `upload`        | put: continues the resumable upload with this id (a renewed key)           |
 * | `hold`          | put: storage holds the version unreadable until the issuer publishes it    |
 * |                 | (the upload is being validated)                                            |
 * | `held`          | get/head: may read a held version (the issuer's validators only)           |
 * | `version`       | publish: the key id of the version to publish                              |
 * | `filename`      | get/head: download file name for `Content-Disposition`                     |
 * | `inline`        | get/head: `true` serve inline, `false` force a download, absent: by type   |
 * | `rev`           | any op: the oldest (seconds) storage's revocation list may be when the key |
 * |                 | is used; a key that lives no longer needs no fresh list. Absent: storage's |
 * |                 | own bound (`--revocation-max-staleness`, 5 s)                              |
 *
 * Unknown claims make a key invalid: a verifier must never ignore a constraint it does not know.
 */
export const valetClaimsSchema = z
  .strictObject({
    op: z.enum(['get', 'head', 'put', 'delete', 'publish']),
    obj: z.string().refine(isCanonicalObjectKey, 'obj must be a canonical object key'),
    sub: z.string().min(1).max(256),
    jti: z.string().regex(KEY_ID),
    iat: seconds,
    nbf: seconds,
    exp: seconds,
    iss: z.string().min(1).max(512).optional(),
    max_size: size.optional(),
    min_size: size.optional(),
    size: size.optional(),
    content_types: z.array(z.string().regex(MEDIA_RANGE)).min(1).max(32).optional(),
    sha256: z.string().regex(SHA256_HEX).optional(),
    no_overwrite: z.boolean().optional(),
    once: z.boolean().optional(),
    resumable: z.literal(true).optional(),
    upload: z.string().regex(KEY_ID).optional(),
    hold: z.literal(true).optional(),
    held: z.literal(true).optional(),
    version: z.string().regex(KEY_ID).optional(),
    filename: FILENAME.optional(),
    inline: z.boolean().optional(),
    rev: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
  })
  .superRefine((c, ctx) => {
    const problem = constraintProblem(c);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** The claims of a verified valet key. */
export type ValetClaims = z.infer<typeof valetClaimsSchema>;

const WRITE_ONLY = [
  'max_size',
  'min_size',
  'size',
  'content_types',
  'sha256',
  'no_overwrite',
  'resumable',
  'upload',
  'hold',
] as const;
const READ_ONLY = ['filename', 'inline', 'held'] as const;

function constraintProblem(c: ValetClaims): string | undefined {
  if (c.op !== 'put') {
    for (const name of WRITE_ONLY) if (c[name] !== undefined) return `${name} applies to put keys only`;
  }
  if (c.op !== 'get' && c.op !== 'head') {
    for (const name of READ_ONLY)
      if (c[name] !== undefined) return `${name} applies to get and head keys only`;
  }
  if ((c.op === 'publish') !== (c.version !== undefined)) {
    return 'a publish key names the version it publishes, and only a publish key does';
  }
  if (c.min_size !== undefined && c.max_size !== undefined && c.min_size > c.max_size) {
    return 'min_size is larger than max_size';
  }
  if (c.size !== undefined) {
    if (c.max_size !== undefined && c.size > c.max_size) return 'size is larger than max_size';
    if (c.min_size !== undefined && c.size < c.min_size) return 'size is smaller than min_size';
  }
  if (c.resumable && c.upload !== undefined) return 'a key either creates an upload or continues one';
  if ((c.resumable || c.upload !== undefined) && c.once) return 'a resumable upload key is used many times';
  if (c.exp <= c.nbf) return 'exp must be after nbf';
  return undefined;
}

/** The media type essence of a `Content-Type` value: `Text/HTML; charset=x` → `text/html`. */
export function mediaTypeEssence(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * True if a `Content-Type` value is allowed by a list of media types and `type/*` ranges.
 *
 * @example
 * ```ts
 * contentTypeAllowed('image/png', ['image/*']) // true
 * contentTypeAllowed('text/html; charset=utf-8', ['text/plain']) // false
 * ```
 */
export function contentTypeAllowed(contentType: string, allowed: readonly string[]): boolean {
  const essence = mediaTypeEssence(contentType);
  const slash = essence.indexOf('/');
  if (slash <= 0) return false;
  const type = essence.slice(0, slash);
  return allowed.some((range) => range === essence || (range.endsWith('/*') && range.slice(0, -2) === type));
}

/** True if `value` is a valid entry for `content_types`: a lower-case media type or `type/*`. */
export function isMediaRange(value: string): boolean {
  return MEDIA_RANGE.test(value);
}
