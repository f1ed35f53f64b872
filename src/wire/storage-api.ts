/**
 * Valet storage's answers as they cross the wire (snake_case, like the issuer's API). Storage's
 * refusals are the same {@link ErrorBody} as the issuer's.
 */
import { z } from 'zod';
import type { ErrorBody } from './errors.js';

export type { ErrorBody };

/** The tus version Valet storage speaks (`Tus-Resumable`). */
export type TusVersion = '1.0.0';

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
