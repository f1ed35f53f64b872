import { ValetError } from '../../token/errors.js';
import {
  credentialScope,
  DEFAULT_ENDPOINT,
  type GcsCredentials,
  goog4Timestamp,
  MAX_EXPIRES,
  signString,
} from './signer.js';

/**
 * A V4 POST policy document: an HTML form upload to a bucket whose conditions the store checks
 * (Google's "POST Object" with `policy` and `x-goog-signature`). It binds what a signed PUT cannot:
 * a type by its prefix (`image/`), for a client that does not name its exact type beforehand.
 */

/** One condition: an exact field (`{ key: value }`), a prefix or equality, or a length range. */
export type PolicyCondition =
  | Record<string, string>
  | ['starts-with' | 'eq', string, string]
  | ['content-length-range', number, number];

export interface PolicyRequest {
  endpoint?: string;
  bucket: string;
  object: string;
  /** Fields the form sends besides the signed ones (each also a condition). */
  fields?: Readonly<Record<string, string>>;
  conditions?: readonly PolicyCondition[];
  /** ms since the epoch (the issuer's clock). */
  now: number;
  /** Seconds the policy is valid, 1 to 7 days. */
  expires: number;
}

export interface SignedPolicy {
  /** Where the form is posted: the bucket's URL. */
  url: string;
  /** The form's fields, in order, before the file. */
  fields: Record<string, string>;
  /** The policy document as signed (for tests and for debugging a refusal). */
  policy: string;
}

/** JSON with every character past ASCII escaped as `\uXXXX`, as Google's signers write policies. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `YYYY-MM-DDTHH:MM:SSZ`. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Signs a POST policy: the conditions, then each field (the form's own, then bucket, key, date,
 * credential and algorithm) as an exact match, and the expiry; the signature is over the policy's
 * base64. The store refuses a form whose fields or file break a condition.
 */
export function signPolicy(credentials: GcsCredentials, request: PolicyRequest): SignedPolicy {
  if (!Number.isInteger(request.expires) || request.expires < 1 || request.expires > MAX_EXPIRES) {
    throw new ValetError('invalid_options', `a GCS policy lives 1 s to 7 days, not ${request.expires} s`);
  }
  const timestamp = goog4Timestamp(request.now);
  const signer = credentials.kind === 'hmac' ? credentials.accessId : credentials.clientEmail;
  const signed: Record<string, string> = {
    ...request.fields,
    bucket: request.bucket,
    key: request.object,
    'x-goog-date': timestamp,
    'x-goog-credential': `${signer}/${credentialScope(timestamp)}`,
    'x-goog-algorithm': credentials.kind === 'hmac' ? 'GOOG4-HMAC-SHA256' : 'GOOG4-RSA-SHA256',
  };
  const conditions: PolicyCondition[] = [...(request.conditions ?? [])];
  for (const [name, value] of Object.entries(signed)) conditions.push({ [name]: value });
  const policy = asciiJson({ conditions, expiration: isoSeconds(request.now + request.expires * 1000) });
  const encoded = Buffer.from(policy).toString('base64');
  const { bucket: _bucket, ...fields } = signed;
  const base = new URL(request.endpoint ?? DEFAULT_ENDPOINT).href.replace(/\/+$/, '');
  return {
    url: `${base}/${request.bucket}/`,
    fields: { ...fields, policy: encoded, 'x-goog-signature': signString(credentials, encoded, timestamp) },
    policy,
  };
}
