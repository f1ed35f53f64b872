import { ValetError } from '../../token/errors.js';
import { fromWire } from '../../wire/case.js';
import type { MintedKey } from '../../wire/keys.js';
import type { StoredObject, StoredObjectBody } from '../../wire/objects.js';
import { freshKey, issuerAnswer } from '../issuer-api.js';
import { withRetry } from '../retry.js';
import { sendBlob, sendForm, sendStream } from '../transports/send.js';
import type { BlobLike, Progress } from '../types.js';
import { jsonBytes, type Sent, type UploadJob } from './job.js';

/**
 * The body in one request (a PUT, or an S3 POST policy), with a fresh key for every attempt. A
 * Blob is re-sent from the start after a transient failure; a stream cannot be, so it goes once.
 * A store that sends no events: the upload is reported done, and the issuer verifies it.
 */
export async function uploadInOne(
  job: UploadJob,
  source: BlobLike | ReadableStream<Uint8Array>,
): Promise<Sent> {
  const { ctx, request, options, bytes } = job;
  const { signal } = options;
  const blob = source instanceof ReadableStream ? undefined : source;
  let used: MintedKey | undefined;
  const result = await withRetry(ctx, blob ? ctx.retries + 1 : 1, signal, async () => {
    const key = await freshKey(ctx, request, signal, () => {
      bytes.toIssuer += jsonBytes(request);
    });
    used = key;
    // Bytes sent to storage in this attempt, counted from the progress events.
    let sent = 0;
    const progress = (p: Progress) => {
      sent = p.loaded;
      options.onProgress?.(p);
    };
    const response = await send(job, key, source, progress).finally(() => {
      bytes.toStorage += sent;
    });
    return confirm(job, key, await storedObject(response));
  });
  return { result, key: used as MintedKey };
}

function send(
  job: UploadJob,
  key: MintedKey,
  source: BlobLike | ReadableStream<Uint8Array>,
  progress: (p: Progress) => void,
): Promise<Response> {
  const { ctx, options } = job;
  if (source instanceof ReadableStream) {
    if (key.fields) {
      throw new ValetError('bad_request', 'this store needs the size of a stream: upload a Blob or a file');
    }
    return sendStream(ctx, key, { ...key.headers }, source, undefined, progress, options.signal);
  }
  if (key.fields) return sendForm(ctx, key, source, progress, options.signal);
  return sendBlob(ctx, key, source, progress, options.signal);
}

/**
 * The upload as the issuer recorded it, once it has: Valet storage answered with a receipt (its
 * signed event) that the issuer records now; another store (no JSON answer) is checked by the
 * issuer. When this resolves, the object is listed, shareable and counted (read-your-writes).
 * Valet storage with no issuer to report to gives no receipt: its own answer is the result.
 */
export async function confirm(
  job: UploadJob,
  key: MintedKey,
  stored: StoredObject | undefined,
): Promise<StoredObject> {
  if (!key.complete || (stored !== undefined && stored.receipt === undefined)) {
    if (!stored) throw new ValetError('internal_error', 'the store answered the upload without its result');
    return stored;
  }
  const body = stored?.receipt ? { receipt: stored.receipt } : {};
  return issuerAnswer<StoredObject>(
    job.ctx,
    'POST',
    key.complete,
    body,
    job.options.signal,
    job.ctx.retries + 1,
  );
}

/** Valet storage's answer to an upload; undefined for another store's (S3 answers no JSON). */
async function storedObject(response: Response): Promise<StoredObject | undefined> {
  const body = await storedAnswer<StoredObjectBody>(response);
  return body && fromWire<StoredObject>(body);
}

/** Valet storage's JSON answer to an upload or deletion, as on the wire; undefined for another store's. */
export async function storedAnswer<T>(response: Response): Promise<T | undefined> {
  const text = await response.text();
  if (!response.headers.get('content-type')?.includes('json') || text === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
