import type { Readable } from 'node:stream';

/** What a validator knows of the upload it checks. */
export interface ValidatedObject {
  /** The object key. */
  object: string;
  /** Who uploaded it (the key's subject). */
  owner: string;
  size: number;
  /** The type the upload declared (and storage enforced against its key). */
  contentType: string;
  etag: string;
  /** Hex SHA-256, where the store keeps one. */
  sha256: string | null;
  /** The rule the upload was made under. */
  rule: string;
  /** The types its key allowed (`image/png`, `image/*`), if it limited them. */
  allowedTypes?: readonly string[];
  /** The file's own name and the app's fields, as the upload said them. */
  filename?: string;
  metadata?: Record<string, string>;
}

/**
 * A validator's answer: `{ ok: true }`, or `{ reject: reason }` with the reason in words for the
 * uploader ("its content is HTML, not image/png"). Throwing means "no answer now" (a scanner down,
 * a timeout): the object stays pending and the validation runs again later, never published
 * unchecked.
 */
export type ValidatorVerdict = { ok: true } | { reject: string };

/**
 * Opens a fresh stream of the object's bytes, read from the store through the driver (never
 * through the app). Destroy it to stop early; each call reads from the start.
 */
export type OpenObject = () => Promise<Readable>;

/**
 * The app's own check, an entry of a rule's `validate` list.
 *
 * @example
 * ```ts
 * validate: ['type', async (object, open) => {
 *   const first = await readPrefix(await open(), 16)
 *   return first.includes(0) ? { reject: 'a CSV file has no NUL bytes' } : { ok: true }
 * }]
 * ```
 */
export type ValidateHook = (object: ValidatedObject, open: OpenObject) => Promise<ValidatorVerdict>;

/**
 * One entry of a rule's `validate` list: `'type'` (the bytes are the declared type, by their
 * signature), `'clamav'` (clamd finds nothing; the issuer's `validation.clamd` says where it is),
 * or the app's own {@link ValidateHook}.
 */
export type ValidatorSpec = 'type' | 'clamav' | ValidateHook;

/** A validator, ready to run. */
export interface Validator {
  /** For logs and metrics: `type`, `clamav`, `hook` (the app's), or `hook:<n>` for a second one. */
  readonly name: string;
  check(object: ValidatedObject, open: OpenObject): Promise<ValidatorVerdict>;
}

/** Reads the first `limit` bytes of a stream (fewer if it ends first), then stops it. */
export async function readPrefix(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      chunks.push(buffer);
      length += buffer.length;
      if (length >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, length).subarray(0, limit);
}
