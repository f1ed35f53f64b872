import { z } from 'zod';
import { FILENAME, KEY_ID } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { storableText } from '../token/text.js';
import { receiptSchema } from './events.js';

/**
 * What clients send the issuer: each request body's schema, which the issuer parses with (in
 * snake_case, as the valet key's own claims). Answers are declared with their resource (keys.ts,
 * objects.ts, shares.ts, me.ts) and cross through the one casing of case.ts. The client imports
 * the types here only: zod stays on the server.
 */

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

const utf8 = new TextEncoder();
const METADATA_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Limits of an upload's `metadata`: how many fields, and their size in all (UTF-8, names included). */
export const METADATA_LIMITS = { fields: 32, bytes: 8192, value: 1024 } as const;

/**
 * The app's own fields of an upload, kept with its object: names of lowercase letters, digits,
 * `_` and `-` (at most 64, starting with a letter or digit), values of Unicode text of at most
 * 1,024 characters; at most 32 fields and 8 KiB in all.
 */
export const METADATA = z
  .record(
    z.string(),
    z
      .string()
      .max(METADATA_LIMITS.value)
      .refine(storableText, 'a metadata value must be text without a NUL character or an unpaired surrogate'),
  )
  .superRefine((m, ctx) => {
    // Checked here rather than as the record's key schema, whose failure would not say why.
    for (const name of Object.keys(m)) {
      if (!METADATA_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `the metadata name ${JSON.stringify(name.slice(0, 80))} is not 1 to 64 of a-z, 0-9, _ and -`,
        });
      }
    }
  })
  .refine((m) => Object.keys(m).length <= METADATA_LIMITS.fields, {
    message: `at most ${METADATA_LIMITS.fields} metadata fields`,
  })
  .refine(
    (m) =>
      Object.entries(m).reduce((n, [k, v]) => n + utf8.encode(k).length + utf8.encode(v).length, 0) <=
      METADATA_LIMITS.bytes,
    { message: `metadata of at most ${METADATA_LIMITS.bytes} bytes in all` },
  );

/** Fields of a key request, shared by the wire body and the issuer's own API. */
export const keyRequestFields = {
  op: z.enum(['put', 'get', 'delete']),
  rule: z.string().max(64).optional(),
  name: z.string().min(1).max(4096).optional(),
  /** The object a get or delete key is for. */
  object: z.string().min(1).max(4096).optional(),
  /** The same as `object`, accepted for one release (removed in 1.0). */
  key: z.string().min(1).max(4096).optional(),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  sha256: z.string().regex(SHA256_HEX).optional(),
  disposition: z.literal('attachment').optional(),
  resumable: z.boolean().optional(),
  upload: z.string().regex(KEY_ID).optional(),
  filename: FILENAME.optional(),
  metadata: METADATA.optional(),
};

/** A media type a client proposes for an upload. */
export const contentTypeField = z.string().min(1).max(255).optional();

/** `POST /v1/keys`: what a client asks for. */
export const keyRequestBodySchema = z
  .object({ ...keyRequestFields, content_type: contentTypeField })
  .strict();
export type KeyRequestBody = z.infer<typeof keyRequestBodySchema>;

/**
 * `POST /v1/keys/:id/complete`: the client says its upload or deletion is done. With Valet
 * storage it passes the receipt storage answered with; other stores need none (the issuer checks).
 */
export const completeRequestBodySchema = z.object({ receipt: receiptSchema.optional() }).strict();
export type CompleteRequestBody = z.infer<typeof completeRequestBodySchema>;

/** `POST /v1/shares`: `object`, or `key` (the same, accepted for one release). */
export const shareRequestBodySchema = z
  .object({
    object: z.string().min(1).max(4096).optional(),
    key: z.string().min(1).max(4096).optional(),
    ttl: z.number().int().min(1),
  })
  .strict();
export type ShareRequestBody = z.infer<typeof shareRequestBodySchema>;

/** `POST /v1/revocations` (admins). */
export const revocationRequestBodySchema = z
  .object({
    kind: z.enum(['key', 'subject', 'signing_key']),
    value: z.string().min(1).max(512),
    before: z.number().int().optional(),
  })
  .strict();
export type RevocationRequestBody = z.infer<typeof revocationRequestBodySchema>;

/** `201` to `POST /v1/revocations`. */
export interface RevokedBody {
  revoked: { kind: RevocationRequestBody['kind']; value: string };
}

/** `POST /v1/uploads/:id/parts`. */
export const partRequestBodySchema = z.object({ part: z.number().int().min(1) }).strict();
export type PartRequestBody = z.infer<typeof partRequestBodySchema>;

/**
 * The object a request names: `object`, or the older `key` (accepted for one release). Both, and
 * different, is a mistake said in words.
 */
export function requestedObject(body: { object?: string; key?: string }): string | undefined {
  if (body.object !== undefined && body.key !== undefined && body.object !== body.key)
    throw new ValetError(
      'bad_request',
      '`object` and `key` name the same thing (key is its old name); send object only',
    );
  return body.object ?? body.key;
}
