import { toWire, type Wire } from './case.js';
import type { Receipt } from './events.js';

/**
 * Objects as they cross the wire, each declared once (camelCase; the wire carries {@link Wire} of
 * it). An object is named by its `object` key everywhere: "key" alone means a valet key.
 */

/**
 * An object as stored: Valet storage's answer to a `PUT` and to the request that finishes a
 * resumable upload, and the issuer's answer to a completion.
 */
export interface StoredObject {
  object: string;
  size: number;
  contentType: string;
  /** Hex SHA-256; `null` from a store that keeps none (S3 engines without checksums, Azure). */
  sha256: string | null;
  etag: string;
  /** Valet storage's PUT: when the version was committed. */
  lastModified?: string;
  /** A finished resumable upload: its id. */
  upload?: string;
  /** Valet storage with an issuer: the signed event of this upload, for the client to pass on. */
  receipt?: Receipt;
  /**
   * The issuer's answer to a completion: `pending` while its rule's validators check it (nobody
   * may read it yet; ask `GET /v1/keys/:id/validation`); absent once it is readable.
   */
  validation?: 'pending';
}

/** {@link StoredObject} on the wire. */
export type StoredObjectBody = Wire<StoredObject>;

/** The one way a stored object is written: a digest the store did not keep is `null`, never `''`. */
export function storedObjectBody(
  stored: Omit<StoredObject, 'sha256'> & { sha256?: string | null },
): StoredObjectBody {
  return toWire<StoredObject>({ ...stored, sha256: stored.sha256 || null });
}

/**
 * A deletion done: the issuer's answer to its completion, and Valet storage's answer to a `DELETE`
 * when it reports to an issuer (with the deletion's signed event, for the client to pass on, so
 * that the listing drops the object at once; without an issuer storage answers a bare `204`).
 */
export interface DeletedObjectBody {
  object: string;
  deleted: true;
  receipt?: Receipt;
}

/** One object of the caller's listing (`GET /v1/objects`). */
export interface ObjectInfo {
  object: string;
  /** @deprecated The same as `object`, for one release: removed in 1.0. */
  key: string;
  size: number;
  contentType: string;
  /** Hex SHA-256; `null` when the store kept none. */
  sha256: string | null;
  etag: string;
  createdAt: string;
  updatedAt: string;
  /** The file's own name, as its upload gave it. */
  filename?: string;
  /** The app's own fields, as its upload gave them. */
  metadata?: Record<string, string>;
  /** `pending` while its rule's validators check it (listed to its uploader only); absent once readable. */
  validation?: 'pending';
}

/** {@link ObjectInfo} on the wire. */
export type ObjectBody = Wire<ObjectInfo>;

/** A page of the caller's listing; `next` is the `after` of the next page, `null` on the last. */
export interface ObjectPage {
  objects: ObjectInfo[];
  next: string | null;
}

/** {@link ObjectPage} on the wire. */
export type ObjectListBody = Wire<ObjectPage>;
