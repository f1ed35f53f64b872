/**
 * Valet storage's answers as they cross the wire (snake_case, like the issuer's API). Storage's
 * refusals are the same {@link ErrorBody} as the issuer's.
 */
import { z } from 'zod';
import type { ErrorBody } from './errors.js';
import type { Receipt } from './events.js';

export type { ErrorBody };

/** The tus version Valet storage speaks (`Tus-Resumable`). */
export type TusVersion = '1.0.0';

/** An object as stored: a storage `PUT`'s answer, a finished upload's, a verified completion's. */
export interface StoredObjectBody {
  object: string;
  size: number;
  content_type: string;
  /** Hex SHA-256; `null` from a store that keeps none (S3 engines without checksums, Azure). */
  sha256: string | null;
  etag: string;
  /** Valet storage's PUT: when the version was committed. */
  last_modified?: string;
  /** A finished resumable upload: its id. */
  upload?: string;
  /** Valet storage with an issuer: the signed event of this upload, for the client to pass on. */
  receipt?: Receipt;
}

/**
 * Valet storage's `200` to a `DELETE` when it reports to an issuer: the deletion's signed event,
 * for the client to pass on so that the issuer's listing drops the object at once. Without an
 * issuer the answer is a bare `204`.
 */
export interface DeletedStorageBody {
  object: string;
  deleted: true;
  receipt: Receipt;
}

/** Where resumable (tus 1.0) uploads live: `POST /uploads` creates one, `/uploads/<id>` continues it. */
export const UPLOADS_PATH = '/uploads';

/** Where objects live: `/o/<encoded object key>`. */
export const OBJECTS_PATH = '/o/';

/**
 * How long an unfinished resumable upload lives, seconds: storage keeps it that long, and the
 * issuer renews its keys that long, so both default to the same day.
 */
export const DEFAULT_UPLOAD_LIFETIME = 86_400;

/** An upload lifetime option: whole seconds, up to 30 days. */
export const uploadLifetimeSchema = z
  .number()
  .int()
  .min(1)
  .max(30 * 24 * 3600);
