import { ValetError } from '../../token/errors.js';
import type { KeyRequestBody } from '../../wire/issuer-api.js';
import type { MintedKey } from '../../wire/keys.js';
import { fileFingerprint } from '../blob.js';
import { issuerAnswer } from '../issuer-api.js';
import { defaultResumeStore, type ResumeStore, type SavedUpload } from '../resume.js';
import { withRetry } from '../retry.js';
import type { BlobLike } from '../types.js';
import {
  cancellingOnAbort,
  inParts,
  jsonBytes,
  type ResumableJob,
  type Sent,
  type UploadJob,
} from './job.js';
import { sendParts } from './multipart.js';
import { confirm } from './single.js';
import { createTusUpload, sendTusChunks, type TusSession, terminate, tusState, UPLOAD_LOST } from './tus.js';

/** Where a client remembers unfinished uploads (resolved once, on first use). */
export interface ResumeMemory {
  store: ResumeStore | null | undefined;
}

/**
 * A resumable upload: resumes a remembered upload of the same source if there is one (with a
 * renewed key), else creates one, as the issuer's key says: tus at Valet storage, or a multipart
 * upload the issuer started on another store. Throws `resumable_unsupported` when the store has
 * none (the caller then sends the body in one request).
 */
export async function uploadResumable(job: UploadJob, blob: BlobLike, memory: ResumeMemory): Promise<Sent> {
  if (memory.store === undefined) memory.store = defaultResumeStore();
  const store = memory.store;
  const source = job.options.fingerprint ?? fileFingerprint(blob);
  const fingerprint =
    store && source !== undefined
      ? JSON.stringify([
          job.ctx.issuer,
          job.request.rule ?? null,
          job.request.name ?? null,
          blob.size,
          source,
        ])
      : undefined;
  const forget = async () => {
    if (store && fingerprint !== undefined) await store.remove(fingerprint).catch(() => {});
  };
  const resumable: ResumableJob = { ...job, blob, forget };
  const saved = store && fingerprint !== undefined ? await store.get(fingerprint) : undefined;
  if (saved?.size === blob.size) {
    const resumed = await resume(resumable, saved);
    if (resumed) return resumed;
  }
  const started = await start(resumable);
  if (store && fingerprint !== undefined) await store.set(fingerprint, remembered(resumable, started));
  const partSize = started.key.upload?.partSize;
  if (inParts(started.key.upload?.protocol)) {
    // The key that started it is the upload's key (the parts' own are not kept).
    const { result } = await sendParts(
      resumable,
      started.key.upload.protocol,
      started.id,
      partSize ?? 0,
      false,
    );
    return { result, key: started.key };
  }
  return tusFrom(resumable, started, 0);
}

/**
 * A remembered upload, continued: its missing parts (multipart), or from the offset storage holds
 * (tus) with a renewed key. `undefined` if it cannot be continued (it is forgotten then).
 */
async function resume(job: ResumableJob, saved: SavedUpload): Promise<Sent | undefined> {
  const protocol = saved.protocol;
  if (inParts(protocol))
    return unlessLost(job, () => sendParts(job, protocol, saved.id, saved.partSize ?? 0, true));
  const found = await unlessLost(job, async () => {
    const key = await renew(job, saved.id);
    return { key, state: await tusState(job.ctx, saved.url, key, job.options.signal) };
  });
  if (!found) return undefined;
  const { key, state } = found;
  if (state.result) {
    await job.forget();
    job.options.onProgress?.({ loaded: job.blob.size, total: job.blob.size });
    return confirmed(job, { result: state.result, key });
  }
  job.options.onResume?.({ offset: state.offset, total: job.blob.size });
  return tusFrom(job, { url: saved.url, id: saved.id, key }, state.offset);
}

/** Runs a step of resuming; `undefined` if the issuer or storage no longer has the upload. */
async function unlessLost<T>(job: ResumableJob, step: () => Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (error) {
    if (!(error instanceof ValetError && UPLOAD_LOST.has(error.code))) throw error;
    await job.forget();
    return undefined;
  }
}

/** A new upload: a resumable key, then (tus) the upload created at storage. */
function start(job: ResumableJob): Promise<TusSession> {
  return withRetry(job.ctx, job.ctx.retries + 1, job.options.signal, async () => {
    const key = await keyFor(job, { ...job.request, resumable: true });
    if (!key.upload) throw new ValetError('resumable_unsupported', 'the issuer gave no resumable upload');
    // Another store: the issuer has started a multipart upload already.
    if (inParts(key.upload.protocol)) return { url: key.url, id: key.upload.id, key };
    return createTusUpload(job, key);
  });
}

/**
 * The chunks of a tus upload from `offset`, then the upload confirmed to the issuer; cancelled
 * for good, it is terminated at storage.
 */
async function tusFrom(job: ResumableJob, session: TusSession, offset: number): Promise<Sent> {
  const sent = await cancellingOnAbort(
    job,
    () => terminate(job.ctx, session),
    sendTusChunks(job, session, offset, (id) => renew(job, id)),
  );
  return confirmed(job, sent);
}

/** An upload storage finished, as the issuer recorded it (see `confirm`). */
async function confirmed(job: ResumableJob, sent: Sent): Promise<Sent> {
  return { result: await confirm(job, sent.key, sent.result), key: sent.key };
}

/** A fresh key for the upload `id` (same object and limits). */
function renew(job: ResumableJob, id: string): Promise<MintedKey> {
  return keyFor(job, { op: 'put', upload: id });
}

async function keyFor(job: ResumableJob, body: KeyRequestBody): Promise<MintedKey> {
  job.bytes.toIssuer += jsonBytes(body);
  return issuerAnswer<MintedKey>(job.ctx, 'POST', '/v1/keys', body, job.options.signal);
}

/** What is remembered of an upload: never its key. */
function remembered(job: ResumableJob, session: TusSession): SavedUpload {
  const upload = session.key.upload;
  const partSize = inParts(upload?.protocol) ? upload?.partSize : undefined;
  return {
    url: session.url,
    id: session.id,
    object: session.key.object,
    size: job.blob.size,
    created: job.ctx.now(),
    ...(partSize !== undefined && { protocol: upload?.protocol, partSize }),
  };
}
