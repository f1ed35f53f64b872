import type { JwkSet } from '../token/keys.js';
import type { RevocationList } from '../token/revocations.js';
import type { MintedKey } from '../wire/keys.js';
import type { ShareLink } from '../wire/shares.js';
import type { Identity } from './auth/identity.js';
import type { GrantRecord, ObjectRecord, RecordStore } from './records/records.js';

/** What an upload looked like when storage reported it, handed to `onUploadComplete`. */
export interface CompletedUpload {
  /** The storage event id (stable across redeliveries: use it to make the hook idempotent). */
  eventId: string;
  object: string;
  owner: string;
  size: number;
  contentType: string;
  sha256: string;
  etag: string;
  /** The file's own name, as the upload gave it. */
  filename?: string;
  /** The app's own fields, as the upload gave them. */
  metadata?: Record<string, string>;
  /** The key that uploaded it, if this issuer minted it. */
  grant: GrantRecord | undefined;
  /**
   * `published`: readable (at once, or once its rule's validators passed it); `rejected`: a
   * validator refused it, and it was removed (`reason` says why, in words for the uploader).
   */
  status: 'published' | 'rejected';
  /** rejected: why. */
  reason?: string;
}

/** What a client asks the issuer for (`POST /v1/keys`; on the wire in snake_case). */
export interface KeyRequest {
  op: 'put' | 'get' | 'delete';
  /** The rule to use; default: the first rule for `op` that allows the request. */
  rule?: string;
  /** put: the proposed name (inside the rule's prefix). */
  name?: string;
  /** get/delete: the object. */
  object?: string;
  /** @deprecated get/delete: the same as `object`, for one release: removed in 1.0. */
  key?: string;
  /** put: the exact size the client will send. */
  size?: number;
  /** put: the content type the client will send. */
  contentType?: string;
  /** put: the body's SHA-256, hex. */
  sha256?: string;
  /**
   * get: `attachment` forces a download. Default: by content type (storage shows raster images,
   * audio, video and PDF inline, and makes everything else a download). A client cannot ask for
   * `inline`: what users upload never renders as a page because a client said so.
   */
  disposition?: 'attachment';
  /**
   * get: the download file name (default: the name the object's upload gave, else the key's last
   * segment). put: the file's own name, kept with the object (listed, the default download name);
   * the client sends a file's name here whatever object name it proposes.
   */
  filename?: string;
  /** put: the app's own fields, kept with the object and listed (see `METADATA` in the wire). */
  metadata?: Record<string, string>;
  /**
   * put: a key for a resumable upload (tus on Valet storage, multipart on S3), which may send the
   * body in many requests over a longer time, renewing its key with `upload`.
   */
  resumable?: boolean;
  /**
   * put: renew the key of the caller's resumable upload with this id (the `upload.id` of the key
   * that created it). The new key has the same object and limits, and a fresh expiry.
   */
  upload?: string;
}

export type { MintedKey, ShareLink };

/** Caller details recorded with each key. */
export interface CallerInfo {
  clientAddress?: string | null;
  userAgent?: string | null;
}

/** The issuer: a web-standard handler plus the same operations as functions. */
export interface Issuer {
  /** Handles one HTTP request (mount in Node's http, Hono, Next.js route handlers, Bun, Deno). */
  fetch(request: Request, info?: { clientAddress?: string }): Promise<Response>;
  /** Mints a key for an already authenticated caller, by the rules. */
  mint(identity: Identity | string, request: KeyRequest, caller?: CallerInfo): Promise<MintedKey>;
  /** The caller's complete objects. */
  list(identity: Identity | string): Promise<ObjectRecord[]>;
  /** Creates a share link for an object the caller may share. */
  share(identity: Identity | string, key: string, ttlSeconds: number, baseUrl?: string): Promise<ShareLink>;
  /** Revokes a share link (only its owner may). */
  unshare(identity: Identity | string, id: string): Promise<void>;
  /** Revokes one key before its expiry. */
  revokeKey(id: string): Promise<void>;
  /**
   * With a store that has multipart uploads: aborts those older than the upload lifetime (done at
   * start and every ten minutes anyway); returns how many.
   */
  abortStaleUploads(): Promise<number>;
  /**
   * With a store that sends no events (S3, Azure): looks at the store for uploads whose keys
   * expired (a minute ago or more) unreported, and records or removes what they wrote, as if their
   * clients had reported them (done every minute anyway); returns how many it settled.
   */
  checkUnreportedUploads(): Promise<number>;
  /**
   * The issuer's metrics in Prometheus' text format, and its content type (also served at
   * `GET /metrics` with the option `metrics: true`).
   */
  metrics(): Promise<{ contentType: string; text: string }>;
  /** Revokes every key issued to `subject` at or before `before` (ms; default now). */
  revokeSubject(subject: string, before?: number): Promise<void>;
  /** Revokes a signing key: every key it signed, and it signs no more. */
  revokeSigningKey(kid: string): Promise<void>;
  /** The revocation list storage polls. */
  revocationList(): Promise<RevocationList>;
  /** The public keys storage trusts (revoked signing keys left out). */
  jwks(): JwkSet;
  /** The record store (audit queries). */
  readonly records: RecordStore;
  /** Stops timers and closes the record store (if the issuer opened it). */
  close(): Promise<void>;
}
