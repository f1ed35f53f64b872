import { ValetError } from '../../token/errors.js';
import type { KeyBody } from '../../wire/issuer-api.js';
import type { StoredObjectBody } from '../../wire/storage-api.js';
import { freshKey, issuerCall } from '../issuer-api.js';
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
  let used: KeyBody | undefined;
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
    if (!key.complete) return (await response.json()) as StoredObjectBody;
    // A store that sends no events (S3…): the issuer verifies the object from the store and records it.
    await response.body?.cancel();
    return issuerCall<StoredObjectBody>(ctx, 'POST', key.complete, {}, signal, 1);
  });
  return { result, key: used as KeyBody };
}

function send(
  job: UploadJob,
  key: KeyBody,
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
