import { createHash, createHmac, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { ValetError } from '../../token/errors.js';

/**
 * Google Cloud Storage's V4 signing (`GOOG4-RSA-SHA256` with a service account's key,
 * `GOOG4-HMAC-SHA256` with an HMAC key), with `node:crypto` alone: the canonical request, the
 * string to sign and the signed URL, as Google's conformance vectors have them
 * (googleapis/conformance-tests `storage/v1/v4_signatures.json`, reproduced in signer.test.ts).
 */

/** A service account's key (its JSON key file's `client_email` and `private_key`). */
export interface ServiceAccountKey {
  readonly kind: 'service-account';
  readonly clientEmail: string;
  readonly privateKey: KeyObject;
}

/** An HMAC key of a service account (Cloud Storage → Settings → Interoperability). */
export interface HmacKey {
  readonly kind: 'hmac';
  readonly accessId: string;
  readonly secret: string;
}

/** What signs: a service account's RSA key or an HMAC key. */
export type GcsCredentials = ServiceAccountKey | HmacKey;

/** Seven days: the longest a V4 signature lives (Google refuses longer). */
export const MAX_EXPIRES = 604_800;

/** One request to sign. */
export interface V4Request {
  method: string;
  /** Where the XML API answers, path style. Default `https://storage.googleapis.com`. */
  endpoint?: string;
  bucket: string;
  /** The object's name as stored (no object: the bucket itself). */
  object?: string;
  /** Headers the request must carry as they are (`host` is added). */
  headers?: Readonly<Record<string, string>>;
  /** Query parameters signed besides the `X-Goog-*` ones. */
  query?: Readonly<Record<string, string>>;
  /** The signing time, ms since the epoch (the issuer's clock). */
  now: number;
  /** Seconds the signature is valid, 1 to {@link MAX_EXPIRES}. */
  expires: number;
}

/** A signed request and how it was made (for tests and for debugging a refusal). */
export interface V4Signed {
  url: string;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

export const DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/** Reads a service account key from its JSON key file's fields. */
export function serviceAccountKey(clientEmail: string, privateKeyPem: string): ServiceAccountKey {
  if (!clientEmail.includes('@')) {
    throw new ValetError('invalid_options', 'a service account key needs its client_email');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new ValetError(
      'invalid_options',
      "the service account's private_key is not a PEM private key (copy it from the JSON key file)",
    );
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new ValetError('invalid_options', "the service account's private_key is not an RSA key");
  }
  return { kind: 'service-account', clientEmail, privateKey };
}

/** RFC 3986 percent-encoding of everything but the unreserved characters. */
export function encodeStrict(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The request path: `/bucket/object`, each segment encoded, the slashes kept. */
export function canonicalPath(bucket: string, object?: string): string {
  const path = object === undefined ? `/${bucket}` : `/${bucket}/${object}`;
  return path.split('/').map(encodeStrict).join('/');
}

/** `YYYYMMDDTHHMMSSZ` of a time. */
export function goog4Timestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A header's value as signed: trimmed, each run of spaces and tabs one space. */
function canonicalValue(value: string): string {
  return value.trim().replace(/[ \t]+/g, ' ');
}

function algorithmOf(credentials: GcsCredentials): string {
  return credentials.kind === 'hmac' ? 'GOOG4-HMAC-SHA256' : 'GOOG4-RSA-SHA256';
}

function signerOf(credentials: GcsCredentials): string {
  return credentials.kind === 'hmac' ? credentials.accessId : credentials.clientEmail;
}

/** The credential scope of a day: `YYYYMMDD/auto/storage/goog4_request`. */
export function credentialScope(timestamp: string): string {
  return `${timestamp.slice(0, 8)}/auto/storage/goog4_request`;
}

/** The query string, sorted by encoded name (as the canonical request has it). */
function canonicalQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => [encodeStrict(k), encodeStrict(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Signs `stringToSign` with the credentials: hex RSA-SHA256, or hex HMAC with the derived key. */
export function signString(credentials: GcsCredentials, stringToSign: string, timestamp: string): string {
  if (credentials.kind === 'service-account') {
    return sign('sha256', Buffer.from(stringToSign), credentials.privateKey).toString('hex');
  }
  let key: Buffer = Buffer.from(`GOOG4${credentials.secret}`);
  for (const part of [timestamp.slice(0, 8), 'auto', 'storage', 'goog4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/**
 * A V4 signed URL for one request. Every header in `request.headers` is signed: the store refuses
 * the request unless it carries each of them with the same value.
 */
export function signV4(credentials: GcsCredentials, request: V4Request): V4Signed {
  if (!Number.isInteger(request.expires) || request.expires < 1 || request.expires > MAX_EXPIRES) {
    throw new ValetError('invalid_options', `a GCS signature lives 1 s to 7 days, not ${request.expires} s`);
  }
  const endpoint = new URL(request.endpoint ?? DEFAULT_ENDPOINT);
  const timestamp = goog4Timestamp(request.now);
  const headers = new Map<string, string>([['host', endpoint.host]]);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    headers.set(name.toLowerCase(), canonicalValue(value));
  }
  const names = [...headers.keys()].sort();
  const signedHeaders = names.join(';');
  const query = canonicalQuery({
    ...request.query,
    'X-Goog-Algorithm': algorithmOf(credentials),
    'X-Goog-Credential': `${signerOf(credentials)}/${credentialScope(timestamp)}`,
    'X-Goog-Date': timestamp,
    'X-Goog-Expires': String(request.expires),
    'X-Goog-SignedHeaders': signedHeaders,
  });
  const path = canonicalPath(request.bucket, request.object);
  const canonicalRequest = [
    request.method,
    path,
    query,
    names.map((n) => `${n}:${headers.get(n)}\n`).join(''),
    signedHeaders,
    headers.get('x-goog-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = [
    algorithmOf(credentials),
    timestamp,
    credentialScope(timestamp),
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const signature = signString(credentials, stringToSign, timestamp);
  const base = endpoint.href.replace(/\/+$/, '');
  return {
    url: `${base}${path}?${query}&X-Goog-Signature=${signature}`,
    canonicalRequest,
    stringToSign,
    signature,
  };
}
