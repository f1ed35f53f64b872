import type { Operation } from '../token/claims.js';
import type { Wire } from './case.js';

/**
 * Valet keys as they cross the wire, each declared once (camelCase; the wire carries
 * {@link Wire} of it): the issuer builds a {@link MintedKey}, `POST /v1/keys` answers it, the
 * SDK reads it back and shows the caller its {@link Grant}.
 */

/** The method of a request a key signs. */
export type HttpMethod = 'PUT' | 'POST' | 'GET' | 'HEAD' | 'DELETE' | 'PATCH';

/** The protocol of a resumable upload: tus on Valet storage, a store's multipart upload through the issuer. */
export type UploadProtocol = 'tus' | 's3-multipart' | 'azure-blocks' | 'gcs-resumable';

/** A resumable upload, as a key for it describes it. */
export interface ResumableUpload {
  id: string;
  protocol: UploadProtocol;
  /** How many keys renewed this upload. */
  renewals: number;
  /** s3-multipart, azure-blocks, gcs-resumable: bytes per part (the last part holds the rest), and how many parts. */
  partSize?: number;
  parts?: number;
}

/** A minted valet key: the request to send to the store (the key in it), and what it allows. */
export interface MintedKey {
  /** The key's id (`jti`): what revokes it. */
  id: string;
  op: Operation;
  object: string;
  /** Where to send the request, key included. */
  url: string;
  method: HttpMethod;
  /** Headers the client must send as they are. */
  headers: Record<string, string>;
  /** POST policy (S3): form fields to send before the file. */
  fields?: Record<string, string>;
  /** Where the client reports the upload or deletion done (its path, on the issuer). */
  complete?: string;
  expiresAt: string;
  /** What the key limits, as the store (or the issuer, after an upload) enforces it: the claims' names. */
  constraints: Record<string, unknown>;
  /** What the key's rule set but the store cannot enforce (accepted by the rule). */
  unenforced?: string[];
  upload?: ResumableUpload;
}

/** {@link MintedKey} on the wire: `201` to `POST /v1/keys`. */
export type KeyBody = Wire<MintedKey>;

/** What a valet key allowed, without the key itself (an upload's result carries it). */
export type Grant = Pick<MintedKey, 'id' | 'op' | 'object' | 'expiresAt' | 'constraints' | 'unenforced'>;

/** A key's {@link Grant}. */
export function grantOf(key: MintedKey): Grant {
  const { id, op, object, expiresAt, constraints, unenforced } = key;
  return { id, op, object, expiresAt, constraints, ...(unenforced && { unenforced }) };
}

/** `200` to `POST /v1/keys/check`: the upload would be allowed, as this object under this rule. */
export interface UploadCheck {
  object: string;
  rule: string;
}

/** `201` to `POST /v1/uploads/:id/parts`: the signed request for one part of a multipart upload. */
export interface SignedPart {
  part: number;
  size: number;
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  expiresAt: string;
  renewals: number;
}

/** {@link SignedPart} on the wire. */
export type PartBody = Wire<SignedPart>;

/** `GET /v1/uploads/:id`: a multipart upload and the parts the store holds. */
export interface MultipartState {
  id: string;
  object: string;
  size: number;
  partSize: number;
  parts: Array<{ part: number; size: number }>;
}

/** {@link MultipartState} on the wire. */
export type MultipartStateBody = Wire<MultipartState>;
