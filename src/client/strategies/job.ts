import type { KeyRequestBody } from '../../wire/issuer-api.js';
import type { MintedKey } from '../../wire/keys.js';
import type { StoredObject } from '../../wire/objects.js';
import type { ClientContext } from '../context.js';
import type { BlobLike, UploadOptions } from '../types.js';

export { inParts } from '../resume.js';

/** What an upload strategy ends with: what storage stored, and the key that did it. */
export interface Sent {
  result: StoredObject;
  key: MintedKey;
}

/** Request-body bytes sent so far, to the issuer and to storage (all attempts included). */
export interface ByteCount {
  toIssuer: number;
  toStorage: number;
}

/** One upload as the strategies carry it from step to step. */
export interface UploadJob {
  ctx: ClientContext;
  /** What the key request asks for (the source's size, type, digest, name, rule). */
  request: KeyRequestBody;
  options: UploadOptions;
  bytes: ByteCount;
}

/** A resumable upload's job: its source, and how to forget the remembered upload. */
export interface ResumableJob extends UploadJob {
  blob: BlobLike;
  /** Drops the remembered upload (it finished, or it cannot continue). */
  forget: () => Promise<void>;
}

/** The size of a JSON body on the wire, for {@link ByteCount}. */
export function jsonBytes(body: unknown): number {
  return new TextEncoder().encode(JSON.stringify(body)).byteLength;
}

/**
 * Awaits an upload; if the caller aborted it and does not keep aborted uploads
 * (`keepOnAbort: false`), cancels it where it is stored (best effort) and forgets it.
 */
export async function cancellingOnAbort<T>(
  job: ResumableJob,
  cancel: () => Promise<unknown>,
  work: Promise<T>,
): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (job.options.signal?.aborted && job.options.keepOnAbort === false) {
      await cancel().catch(() => {});
      await job.forget();
    }
    throw error;
  }
}
