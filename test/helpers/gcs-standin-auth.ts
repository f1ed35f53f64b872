import { createHash, createHmac, createPublicKey, type KeyObject, verify } from 'node:crypto';

/**
 * The GCS stand-in's check of V4 signatures and POST policies (see gcs-standin.ts). A STAND-IN
 * WRITTEN BY THE TESTS, NOT GOOGLE'S: it follows Google's published signing documents, and is
 * written apart from Valet's signer (it imports nothing of it), so that a signer mistake does
 * not cancel out. No emulator available here verifies GCS signatures.
 */

/** Who the stand-in trusts: the service account's public key, and HMAC keys by access id. */
export interface Trust {
  clientEmail: string;
  publicKey: KeyObject;
  hmac: Record<string, string>;
}

export function trustOf(
  clientEmail: string,
  privateKeyPem: string,
  hmac: Record<string, string> = {},
): Trust {
  return { clientEmail, publicKey: createPublicKey(privateKeyPem), hmac };
}

/** Why a request is refused, as GCS's XML error code and status. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function hmacKey(secret: string, day: string): Buffer {
  return ['auto', 'storage', 'goog4_request'].reduce(
    (key, part) => createHmac('sha256', key).update(part).digest(),
    createHmac('sha256', `GOOG4${secret}`).update(day).digest(),
  );
}

/** Whether `signature` (hex) signs `text` for the credential named (`who/day/...`). */
function signedBy(
  trust: Trust,
  algorithm: string,
  who: string,
  day: string,
  text: string,
  signature: string,
) {
  if (algorithm === 'GOOG4-RSA-SHA256' && who === trust.clientEmail) {
    return verify('sha256', Buffer.from(text), trust.publicKey, Buffer.from(signature, 'hex'));
  }
  const secret = trust.hmac[who];
  if (algorithm === 'GOOG4-HMAC-SHA256' && secret !== undefined) {
    return createHmac('sha256', hmacKey(secret, day)).update(text).digest('hex') === signature;
  }
  return false;
}

/** The request as the stand-in saw it. */
export interface Seen {
  method: string;
  /** The path as sent (encoded). */
  rawPath: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Checks a V4 signed URL: the signature over the canonical request the stand-in rebuilds from
 * what it received, the date and lifetime against its own clock, and that every `x-goog-*`
 * header sent is signed (Google's signers require it). Throws a {@link Refusal}.
 */
export function checkSignedUrl(trust: Trust, seen: Seen, now: number): void {
  const q = seen.query;
  const [algorithm, credential, date, expires, signedHeaders, signature] = [
    'X-Goog-Algorithm',
    'X-Goog-Credential',
    'X-Goog-Date',
    'X-Goog-Expires',
    'X-Goog-SignedHeaders',
    'X-Goog-Signature',
  ].map((name) => q.get(name) ?? '');
  if (!signature) throw new Refusal(403, 'AccessDenied', 'no signature');
  const start = Date.parse(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const lifetime = Number(expires);
  if (!(lifetime >= 1 && lifetime <= 604_800)) throw new Refusal(400, 'AuthenticationRequired', 'bad expiry');
  if (!Number.isFinite(start) || now > start + lifetime * 1000 || now < start - 900_000) {
    throw new Refusal(400, 'ExpiredToken', 'the signature is not valid at this time');
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw new Refusal(400, 'AuthenticationRequired', 'host is not signed');
  for (const name of Object.keys(seen.headers)) {
    if (name.startsWith('x-goog-') && !names.includes(name)) {
      throw new Refusal(400, 'AuthenticationRequired', `the header ${name} is not signed`);
    }
  }
  const canonicalQuery = [...q.entries()]
    .filter(([name]) => name !== 'X-Goog-Signature')
    .map(([k, v]) => [encode(k), encode(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const value = (name: string) => {
    const raw = seen.headers[name];
    return (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().replace(/[ \t]+/g, ' ');
  };
  const canonical = [
    seen.method,
    seen.rawPath,
    canonicalQuery,
    names.map((n) => `${n}:${value(n)}\n`).join(''),
    signedHeaders,
    names.includes('x-goog-content-sha256') ? value('x-goog-content-sha256') : 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const [who = '', day = '', ...scope] = credential.split('/');
  const toSign = [
    algorithm,
    date,
    [day, ...scope].join('/'),
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  if (scope.join('/') !== 'auto/storage/goog4_request' || day !== date.slice(0, 8)) {
    throw new Refusal(400, 'AuthenticationRequired', 'bad credential scope');
  }
  if (!signedBy(trust, algorithm, who, day, toSign, signature)) {
    throw new Refusal(403, 'SignatureDoesNotMatch', 'the signature does not match');
  }
}

/**
 * Checks a POST policy form: its signature, its expiry, and every condition against the form's
 * fields and the file's length. Throws a {@link Refusal}.
 */
export function checkPolicy(
  trust: Trust,
  fields: Map<string, string>,
  fileSize: number,
  bucket: string,
  now: number,
) {
  const policy = fields.get('policy') ?? '';
  const algorithm = fields.get('x-goog-algorithm') ?? '';
  const [who = '', day = ''] = (fields.get('x-goog-credential') ?? '').split('/');
  if (!signedBy(trust, algorithm, who, day, policy, fields.get('x-goog-signature') ?? '')) {
    throw new Refusal(403, 'SignatureDoesNotMatch', 'the policy signature does not match');
  }
  const doc = JSON.parse(Buffer.from(policy, 'base64').toString('utf8')) as {
    conditions: Array<Record<string, string> | [string, string | number, string | number]>;
    expiration: string;
  };
  if (now > Date.parse(doc.expiration)) throw new Refusal(400, 'ExpiredToken', 'the policy expired');
  const field = (name: string) => (name === 'bucket' ? bucket : (fields.get(name.replace(/^\$/, '')) ?? ''));
  // Every field the form sends is named by a condition (but the signature's own and x-ignore-*).
  const named = new Set(
    doc.conditions.flatMap((c) => (Array.isArray(c) ? [String(c[1]).replace(/^\$/, '')] : Object.keys(c))),
  );
  for (const name of fields.keys()) {
    if (
      !['policy', 'x-goog-signature', 'file'].includes(name) &&
      !name.startsWith('x-ignore-') &&
      !named.has(name)
    ) {
      throw new Refusal(403, 'AccessDenied', `the form field ${name} is not in the policy`);
    }
  }
  for (const condition of doc.conditions) {
    if (!Array.isArray(condition)) {
      for (const [name, value] of Object.entries(condition)) {
        if (field(name) !== value) throw new Refusal(403, 'AccessDenied', `${name} breaks the policy`);
      }
      continue;
    }
    const [op, a, b] = condition;
    if (op === 'content-length-range') {
      if (fileSize < Number(a) || fileSize > Number(b)) {
        throw new Refusal(400, 'EntityTooLarge', 'the file is outside the policy length range');
      }
    } else if (
      op === 'starts-with' ? !field(String(a)).startsWith(String(b)) : field(String(a)) !== String(b)
    ) {
      throw new Refusal(403, 'AccessDenied', `${a} breaks the policy`);
    }
  }
}
