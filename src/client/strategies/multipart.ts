import { ValetError } from '../../token/errors.js';
import type { MintedKey, MultipartState, SignedPart, UploadProtocol } from '../../wire/keys.js';
import type { StoredObject } from '../../wire/objects.js';
import { issuerAnswer, issuerCall } from '../issuer-api.js';
import { withRetry } from '../retry.js';
import { sendBlob } from '../transports/send.js';
import type { Progress } from '../types.js';
import { cancellingOnAbort, jsonBytes, type ResumableJob, type Sent } from './job.js';

/**
 * An upload in parts, on a store that has them (S3 multipart, Azure blocks): each missing part gets its own signed request
 * from the issuer (its exact length) and goes straight to the store, with retries; then the issuer
 * checks the parts and completes the upload. Resuming asks the issuer which parts the store holds.
 */
export function sendParts(
  job: ResumableJob,
  protocol: UploadProtocol,
  id: string,
  partSize: number,
  resuming: boolean,
): Promise<Sent> {
  // Cancelled for good: the issuer aborts the multipart upload at the store.
  const cancel = () => issuerCall(job.ctx, 'DELETE', `/v1/uploads/${id}`, undefined, undefined, 1);
  return cancellingOnAbort(job, cancel, partsFrom(job, protocol, id, partSize, resuming));
}

async function partsFrom(
  job: ResumableJob,
  protocol: UploadProtocol,
  id: string,
  partSize: number,
  resuming: boolean,
): Promise<Sent> {
  const { ctx, blob, options, forget } = job;
  if (!(partSize > 0)) throw new ValetError('internal_error', 'the multipart upload has no part size');
  const count = Math.max(1, Math.ceil(blob.size / partSize));
  const bounds = (n: number) => [(n - 1) * partSize, Math.min(blob.size, n * partSize)] as const;
  const held = resuming ? await heldParts(job, id, count, bounds) : new Set<number>();
  let done = [...held].reduce((sum, n) => sum + bounds(n)[1] - bounds(n)[0], 0);
  if (resuming) options.onResume?.({ offset: done, total: blob.size });
  for (let n = 1; n <= count; n++) {
    if (held.has(n)) continue;
    const [start, end] = bounds(n);
    const before = done;
    await withRetry(ctx, ctx.retries + 1, options.signal, () => sendPart(job, id, n, start, end, before));
    done += end - start;
  }
  const result = await issuerAnswer<StoredObject>(
    ctx,
    'POST',
    `/v1/uploads/${id}/complete`,
    {},
    options.signal,
    1,
  );
  await forget();
  options.onProgress?.({ loaded: blob.size, total: blob.size });
  const key: MintedKey = {
    id,
    op: 'put',
    object: result.object,
    url: `/v1/uploads/${id}`,
    method: 'POST',
    headers: {},
    expiresAt: new Date(ctx.now()).toISOString(),
    constraints: {},
    upload: { id, protocol, renewals: 0 },
  };
  return { result, key };
}

/** The parts the store already holds with their exact sizes. */
async function heldParts(
  job: ResumableJob,
  id: string,
  count: number,
  bounds: (n: number) => readonly [number, number],
): Promise<Set<number>> {
  const state = await issuerAnswer<MultipartState>(
    job.ctx,
    'GET',
    `/v1/uploads/${id}`,
    undefined,
    job.options.signal,
  );
  const held = new Set<number>();
  for (const { part, size } of state.parts) {
    const [start, end] = part >= 1 && part <= count ? bounds(part) : [0, -1];
    if (size === end - start) held.add(part);
  }
  return held;
}

/** One part: its signed request from the issuer, then its bytes straight to the store. */
async function sendPart(job: ResumableJob, id: string, n: number, start: number, end: number, done: number) {
  const { ctx, blob, options, bytes } = job;
  bytes.toIssuer += jsonBytes({ part: n });
  const part = await issuerAnswer<SignedPart>(
    ctx,
    'POST',
    `/v1/uploads/${id}/parts`,
    { part: n },
    options.signal,
    1,
  );
  let sent = 0;
  const progress = (p: Progress) => {
    sent = p.loaded;
    options.onProgress?.({ loaded: done + p.loaded, total: blob.size });
  };
  const response = await sendBlob(ctx, part, blob.slice(start, end), progress, options.signal).finally(() => {
    bytes.toStorage += sent;
  });
  await response.body?.cancel();
}
