import type { Readable } from 'node:stream';
import type { ValetClaims } from '../token/claims.js';
import type { HttpMethod } from '../wire/keys.js';
import type { CheckResult } from '../wire/readiness.js';

/**
 * The storage driver interface: how the issuer signs for a store. Valet's own storage is a driver
 * like S3 or Azure; the issuer only ever talks to a driver, and learns what a store can do from
 * the capabilities declared here (checked by the compiler, not by comments).
 */

/** Who enforces a rule constraint on a store. */
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

/**
 * Who enforces each constraint. `store`: the store refuses a request that breaks it. `issuer`:
 * checked when the client reports the upload done (an object that breaks it is deleted). `none`:
 * nobody can; a rule that sets it must list it in its `accept`.
 */
export type EnforcementTable = Readonly<Record<Constraint, Enforcement>>;

/** A request a client sends to the store with a key (a URL with the key in it, headers, POST fields). */
export interface SignedRequest {
  method: HttpMethod;
  url: string;
  /** Headers the client must send as they are (the store checks them). */
  headers: Record<string, string>;
  /** POST (a policy form): fields to send before the file. */
  fields?: Record<string, string>;
}

/** What the store says about an object, for completion checks. */
export interface HeadResult {
  size: number;
  contentType: string;
  etag: string;
  /** Hex SHA-256, if the store kept one. */
  sha256?: string;
  /** When the object was last written (ms since the epoch, the store's clock), if the store says. */
  modifiedAt?: number;
  /**
   * True if the store says the object was made by a server-side copy of another object (Azure's
   * Copy Blob), not uploaded: no upload key allows that, and its size and type are another
   * object's, never to be told to the uploader.
   */
  copied?: boolean;
}

/** What the issuer hands a driver with every call. Drivers read time only from here. */
export interface DriverContext {
  /** The issuer's clock for this call, ms since the epoch. */
  readonly now: number;
  /**
   * A valet key the issuer signs (and records) for its own `head`, `get`, `delete` or `publish` of
   * `object` (its reads may read a held version; `version`: the key id of the version a publish
   * key publishes): a driver for a store that verifies valet keys (Valet storage) sends it; a
   * driver with credentials of its own (S3, Azure) ignores it.
   */
  issuerKey(op: 'head' | 'get' | 'delete' | 'publish', object: string, version?: string): Promise<string>;
}

/** An object's bytes as {@link StorageDriver.read} streams them. */
export interface ObjectStream {
  /** The bytes, streamed as the store sends them (destroy it to stop early). */
  body: Readable;
  size: number;
  etag: string;
}

/** What {@link StorageDriver.sign} gets besides the claims. */
export interface SignOptions {
  /** The issuer's clock for this call, ms since the epoch (the claims' `iat` is from it too). */
  readonly now: number;
  /** put: the exact type the client will send (the signed request must carry it). */
  readonly contentType?: string;
  /**
   * get: the object's type as the issuer recorded it, looked up on demand, for stores that serve
   * the type the signed request names (S3's `response-content-type`).
   */
  objectType(): Promise<string | undefined>;
  /** These claims as a signed valet key, made on demand: only stores that verify valet keys ask. */
  valetKey(): Promise<string>;
}

/** A resumable upload in several requests, as the store offers it. */
export type ResumableUploads = TusUploads | MultipartUploads;

/**
 * The store speaks tus 1.0 with valet keys (Valet storage): {@link StorageDriver.sign} turns a key
 * with `resumable: true` into the creation request (`POST …/uploads`) and one with `upload: <id>`
 * into that upload's address, with the key in the `Authorization` header. The store itself checks
 * each request against the key, keeps the offset and commits the object.
 */
export interface TusUploads {
  readonly protocol: 'tus';
}

/** One part a multipart upload holds at the store. */
export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
}

/**
 * The store takes an upload in parts the issuer signs (S3 multipart uploads, Azure blocks, GCS
 * resumable sessions): the issuer starts one, signs each part's request on demand (its exact
 * length), and completes it from the parts the store holds, checked against the declared size.
 * All six operations (`abortStale` only where the store lists its uploads), or no `resumable` at
 * all. The client's side is the same for every protocol.
 */
export interface MultipartUploads {
  readonly protocol: 's3-multipart' | 'azure-blocks' | 'gcs-resumable';
  /**
   * Who holds a part to its signed length: `store` (S3 signs `content-length`), or `issuer` (an
   * Azure block SAS binds no length, nor does a GCS session: the issuer refuses to complete with a
   * part of the wrong size).
   */
  readonly partLength: 'store' | 'issuer';
  /**
   * Starts a multipart upload; returns the store's upload id. `size` and `partSize`: the upload's
   * total and its parts' size (the last holds the rest); `noOverwrite`: a create-only key (a store
   * that binds it when an upload starts, GCS, does it here).
   */
  create(
    options: { object: string; contentType?: string; size: number; partSize: number; noOverwrite?: boolean },
    context: DriverContext,
  ): Promise<string>;
  /**
   * The signed request for one part, of exactly `size` bytes, valid for `ttl` seconds; `offset`:
   * where the part starts in the object, `total`: the object's size.
   */
  signPart(
    options: {
      object: string;
      uploadId: string;
      partNumber: number;
      size: number;
      ttl: number;
      offset: number;
      total: number;
    },
    context: DriverContext,
  ): Promise<SignedRequest>;
  /** The parts the store holds, in order (`layout`: the upload's total and part size). */
  listParts(
    object: string,
    uploadId: string,
    context: DriverContext,
    layout: { size: number; partSize: number },
  ): Promise<StoredPart[]>;
  /**
   * Completes the upload from the parts the store holds (never from what a client claims), after
   * checking their total against `expectedSize`: on a mismatch it is aborted and
   * `422 upload_rejected` thrown. `contentType`: the type the upload declared (for a store that
   * sets it at completion); `noOverwrite`: the key was create-only (a store that can, completes
   * only if no object exists, else `412 precondition_failed`).
   */
  complete(
    options: {
      object: string;
      uploadId: string;
      expectedSize: number;
      contentType?: string;
      noOverwrite?: boolean;
    },
    context: DriverContext,
  ): Promise<void>;
  /** Aborts an upload: the store drops its parts. */
  abort(object: string, uploadId: string, context: DriverContext): Promise<void>;
  /**
   * Aborts the uploads started before `olderThan`; returns how many. A store that cannot list its
   * uploads (GCS sessions) has none: the issuer then cancels its stale uploads from its own
   * records, with {@link abort}.
   */
  abortStale?(olderThan: number, context: DriverContext): Promise<number>;
}

/**
 * How the issuer signs for one store. A driver turns the claims the rules produced into the
 * store's own signed request, says which constraints the store enforces, reads and deletes objects
 * with its own authority, and declares how the issuer learns of completed uploads.
 *
 * Add a driver: implement this in `src/drivers/<name>.ts` (or a folder), and run the driver
 * contract suite (`valet/drivers/testing`) on it. See docs/architecture.md.
 *
 * @example
 * ```ts
 * const issuer = await createIssuer({ driver: new S3Driver({ bucket, credentials }), … })
 * ```
 */
export interface StorageDriver {
  /** A short name for logs and errors (`valet`, `s3`, `memory`). */
  readonly name: string;
  /**
   * How the issuer learns that an upload or a deletion happened. `events`: the store sends signed
   * events to `POST /v1/events` (Valet storage). `client`: the client reports it done at the
   * key's `complete` URL, and the issuer verifies it with {@link head} (S3, Azure).
   */
  readonly completion: 'events' | 'client';
  /** Who enforces each constraint on this store (the README's table). */
  enforcement(): EnforcementTable;
  /** The store's signed request for one key's claims, valid until the claims' `exp`. */
  sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest>;
  /** The object's head, or `undefined` if it does not exist. */
  head(object: string, context: DriverContext): Promise<HeadResult | undefined>;
  /** Deletes an object with the driver's own authority (a missing object is not an error). */
  delete(object: string, context: DriverContext): Promise<void>;
  /**
   * Streams an object's bytes with the driver's own authority (the issuer's validators read
   * through it, never through the app's request path): `undefined` if the object does not exist,
   * or (with `etag`) if its current version is another. Without it, no rule may validate content.
   */
  read?(
    object: string,
    context: DriverContext,
    options?: { etag?: string },
  ): Promise<ObjectStream | undefined>;
  /**
   * A store that holds an upload made with a `hold` key (Valet storage) makes the version `version`
   * (the key id that made it) readable: `published`, or `replaced` if the object's current version
   * is another (or it is gone). A store without holds has none: the issuer alone keeps a pending
   * object unreadable there (it signs no read for it).
   */
  publish?(object: string, version: string, context: DriverContext): Promise<'published' | 'replaced'>;
  /** Resumable uploads, if the store has them. */
  readonly resumable?: ResumableUploads;
  /**
   * Whether the store answers, for the issuer's readiness (`/readyz`, check `storage`): its
   * status and the problem in words. Without it, the store is taken to be ready.
   */
  ready?(): Promise<CheckResult>;
}
