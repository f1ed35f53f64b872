import { z } from 'zod';

/**
 * A storage event: what Valet storage reports to the issuer (`POST /v1/events`, HMAC-signed) for
 * each committed upload and deletion, and what the issuer records. Storage writes it, the issuer
 * parses it with {@link storageEventSchema}: one declaration for both sides.
 */
export const storageEventSchema = z.object({
  /** Unique event id: the issuer records each id once. */
  id: z.string().min(1).max(128),
  type: z.enum(['object.created', 'object.deleted']),
  /** When the change was committed (ISO 8601). */
  time: z.string().max(64),
  object: z.string().min(1).max(4096),
  /** The valet key (`jti`) that made the change. */
  key_id: z.string().min(1).max(128),
  /** The subject that key was minted for. */
  subject: z.string().min(1).max(512),
  /** object.created: the new version. object.deleted: the version that was removed. */
  size: z.number().int().min(0),
  content_type: z.string().max(255),
  sha256: z.string().max(64),
  etag: z.string().max(128),
  /** object.deleted: the key id that created the removed version. */
  version_key_id: z.string().max(128).optional(),
});

/** A storage event, as sent in the webhook body (JSON). */
export type StorageEvent = z.infer<typeof storageEventSchema>;

/** The issuer's answer to a storage event. */
export interface EventAck {
  received: string;
  /** True when the event id was seen before (a redelivery): nothing changed. */
  duplicate: boolean;
}

/**
 * A storage event handed to the client with the answer to its upload, signed as storage signs
 * its webhook (`Valet-Signature` over `POST {events path}` and the body). The client passes it to
 * the issuer (`POST /v1/keys/:id/complete`), which records the upload before `upload()` resolves;
 * the webhook's own delivery of the same event (same id) is then a duplicate. A client cannot
 * forge one: it does not know the secret.
 */
export interface Receipt {
  /** The event, as the webhook sends it (JSON text). */
  event: string;
  /** Its `Valet-Signature`. */
  signature: string;
}

/** A receipt as the issuer accepts it. */
export const receiptSchema = z
  .object({ event: z.string().min(2).max(8192), signature: z.string().min(1).max(256) })
  .strict();
