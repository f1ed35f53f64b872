import type { ValetClaims } from '../token/claims.js';

/** Who enforces a rule constraint on a storage driver. */
export type Enforcement = 'store' | 'issuer' | 'none';

/** The constraints a rule can set, in the enforcement table of each driver. */
export const CONSTRAINTS = [
  'max_size',
  'min_size',
  'size',
  'content_types',
  'sha256',
  'once',
  'no_overwrite',
  'revocation',
  'expiry',
] as const;

/** One of {@link CONSTRAINTS}. */
export type Constraint = (typeof CONSTRAINTS)[number];

/** A request a client sends to the store with a key (presigned URL, headers, POST fields). */
export interface SignedRequest {
  method: 'PUT' | 'POST' | 'GET' | 'DELETE';
  url: string;
  /** Headers the client must send as they are (the store checks them). */
  headers: Record<string, string>;
  /** POST: form fields to send before the file. */
  fields?: Record<string, string>;
}

/** What the store says about an object, for completion checks. */
export interface HeadResult {
  size: number;
  contentType: string;
  etag: string;
  /** Hex SHA-256, if the store kept a checksum. */
  sha256?: string;
}

/**
 * How the issuer signs for a store other than Valet's own (S3-compatible engines, …). Valet's
 * storage needs none: the issuer mints valet keys for it. A driver turns the claims the rules
 * produced into the store's native signed request, says which constraints the store enforces,
 * and lets the issuer verify completed uploads, since such a store sends no signed webhook.
 */
export interface StorageDriver {
  readonly name: string;
  /** Who enforces each constraint (see the README's table per driver). */
  enforcement(): Record<Constraint, Enforcement>;
  /** The native signed request for one key's claims. */
  sign(claims: ValetClaims, contentType: string | undefined): Promise<SignedRequest>;
  /** The object's head, or `undefined` if it does not exist. */
  head(object: string): Promise<HeadResult | undefined>;
  /** Deletes an object with the driver's own credentials. */
  delete(object: string): Promise<void>;
  /**
   * Multipart uploads, for resumable uploads on this store (all six, or none). The issuer starts
   * one, signs each part's request on demand (with the part's exact length), and completes it
   * from the parts the store holds, checked against the declared size.
   */
  createMultipart?(options: { object: string; contentType?: string }): Promise<string>;
  presignPart?(options: {
    object: string;
    uploadId: string;
    partNumber: number;
    size: number;
    ttl: number;
  }): Promise<SignedRequest>;
  listParts?(
    object: string,
    uploadId: string,
  ): Promise<Array<{ partNumber: number; etag: string; size: number }>>;
  completeMultipart?(options: { object: string; uploadId: string; expectedSize?: number }): Promise<void>;
  abortMultipart?(object: string, uploadId: string): Promise<void>;
  /** Aborts multipart uploads started before `olderThan`; returns how many. */
  abortStaleMultiparts?(olderThan: Date): Promise<number>;
}
