import { ValetError } from '../../token/errors.js';
import { fromWire } from '../../wire/case.js';
import type { Receipt } from '../../wire/events.js';
import type { MintedKey } from '../../wire/keys.js';
import type { StoredObject, StoredObjectBody } from '../../wire/objects.js';
import type { TusVersion } from '../../wire/storage-api.js';
import { base64 } from '../blob.js';
import type { ClientContext } from '../context.js';
import { aborted } from '../errors.js';
import { retryable, sleep } from '../retry.js';
import { sendBlob, storageFetch } from '../transports/send.js';
import type { ResumableJob, Sent } from './job.js';

const TUS_VERSION: TusVersion = '1.0.0';
/** A resumable upload renews its key when it has less than this left before the next chunk. */
const RENEW_MARGIN_MS = 30_000;
/** Refusals after which a remembered upload cannot continue: it is forgotten and started again. */
export const UPLOAD_LOST: ReadonlySet<string> = new Set([
  'not_found',
  'upload_gone',
  'forbidden',
  'scope_mismatch',
]);

/** A tus upload at storage: its URL, its id, and the key its requests carry now. */
export interface TusSession {
  url: string;
  id: string;
  key: MintedKey;
}

/** Where storage is with an upload: its offset, and what it stored once it is finished. */
interface TusState {
  offset: number;
  result?: StoredObject;
}

/** Creates the tus upload a resumable key allows (`POST …/uploads`), named and typed by its metadata. */
export async function createTusUpload(job: ResumableJob, key: MintedKey): Promise<TusSession> {
  const { ctx, request, blob, options } = job;
  const metadata = [`filename ${base64(String(request.name ?? 'upload'))}`];
  if (request.content_type !== undefined) metadata.push(`filetype ${base64(request.content_type)}`);
  const response = await storageFetch(ctx, key.url, {
    method: 'POST',
    headers: {
      ...key.headers,
      'tus-resumable': TUS_VERSION,
      'upload-length': String(blob.size),
      'upload-metadata': metadata.join(','),
    },
    signal: options.signal,
  });
  await response.body?.cancel();
  const location = response.headers.get('location');
  if (!location) throw new ValetError('internal_error', 'storage created the upload without a Location');
  return { url: new URL(location, key.url).href, id: key.upload?.id ?? key.id, key };
}

/** Terminates an upload at storage (tus termination): cancelled for good. */
export function terminate(ctx: ClientContext, session: TusSession): Promise<unknown> {
  return ctx
    .fetch(session.url, {
      method: 'DELETE',
      headers: { ...session.key.headers, 'tus-resumable': TUS_VERSION },
    })
    .then((r) => r.body?.cancel());
}

/**
 * The chunks of a tus upload from `start` on, renewing the key before it expires, and after a
 * failure asking storage for its offset (the chunk may have landed in part) and going on from there.
 */
export async function sendTusChunks(
  job: ResumableJob,
  session: TusSession,
  start: number,
  renew: (id: string) => Promise<MintedKey>,
): Promise<Sent> {
  const { ctx, options, forget } = job;
  let offset = start;
  let failures = 0;
  let delay = ctx.retryDelay;
  for (;;) {
    if (options.signal?.aborted) throw aborted();
    try {
      if (Date.parse(session.key.expiresAt) - ctx.now() < RENEW_MARGIN_MS) {
        session.key = await renew(session.id).catch((error: unknown) => {
          // The issuer away (an app deploy, a crash): the key in hand works until it expires.
          if (retryable(error) && Date.parse(session.key.expiresAt) > ctx.now()) return session.key;
          throw error;
        });
      }
      const state = await nextChunk(job, session, offset);
      offset = state.offset;
      failures = 0;
      delay = ctx.retryDelay;
      if (state.result) {
        await forget();
        return { result: state.result, key: session.key };
      }
    } catch (error) {
      if (options.signal?.aborted) throw aborted(error);
      const code = error instanceof ValetError ? error.code : undefined;
      if (!(retryable(error) || code === 'offset_mismatch')) {
        // The upload itself was refused (digest, size, create-only…) or is gone: start over next time.
        if (code !== 'unauthenticated' && code !== 'token_revoked') await forget();
        throw error;
      }
      if (++failures > ctx.retries) throw error;
      if (code !== 'offset_mismatch' && code !== 'token_expired') {
        await sleep(delay * (0.5 + Math.random() / 2), options.signal);
        delay *= 2;
      }
      if (code === 'token_expired' || code === 'token_not_yet_valid') {
        session.key = await renew(session.id).catch(() => session.key);
      }
      const resynced = await resync(job, session);
      if (resynced?.result) {
        await forget();
        return { result: resynced.result, key: session.key };
      }
      if (resynced) offset = resynced.offset;
    }
  }
}

/** Sends the chunk at `offset` (or, once every byte is in, asks storage for the result). */
async function nextChunk(job: ResumableJob, session: TusSession, offset: number): Promise<TusState> {
  const { ctx, blob, options, bytes } = job;
  // (An empty upload is complete once created: HEAD gives its result.)
  if (offset >= blob.size) return tusState(ctx, session.url, session.key, options.signal);
  const end = Math.min(blob.size, offset + ctx.chunkSize);
  let sent = 0;
  const chunk = await sendChunk(job, session, offset, end, (loaded) => {
    sent = loaded;
    options.onProgress?.({ loaded: offset + loaded, total: blob.size });
  }).finally(() => {
    bytes.toStorage += sent;
  });
  if (chunk.result || chunk.offset < blob.size) return chunk;
  return tusState(ctx, session.url, session.key, options.signal);
}

/** Where storage is after a failure; undefined if it cannot say (the loop tries again). */
async function resync(job: ResumableJob, session: TusSession): Promise<TusState | undefined> {
  try {
    return await tusState(job.ctx, session.url, session.key, job.options.signal);
  } catch (error) {
    if (error instanceof ValetError && UPLOAD_LOST.has(error.code)) {
      await job.forget();
      throw error;
    }
    return undefined;
  }
}

/** Sends bytes `start`..`end` as one PATCH; the new offset, and the object once complete. */
async function sendChunk(
  job: ResumableJob,
  session: TusSession,
  start: number,
  end: number,
  onSent: (loaded: number) => void,
): Promise<TusState> {
  const headers = {
    ...session.key.headers,
    'tus-resumable': TUS_VERSION,
    'upload-offset': String(start),
    'content-type': 'application/offset+octet-stream',
  };
  const target = { url: session.url, method: 'PATCH', headers };
  const response = await sendBlob(
    job.ctx,
    target,
    job.blob.slice(start, end),
    (p) => onSent(p.loaded),
    job.options.signal,
  );
  const offset = uploadOffset(response);
  if (response.status === 200 && response.headers.get('content-type')?.includes('json')) {
    return { offset, result: fromWire<StoredObject>((await response.json()) as StoredObjectBody) };
  }
  await response.body?.cancel();
  return { offset };
}

/** Asks storage where an upload is (`HEAD`): its offset, and what was stored if it is finished. */
export async function tusState(
  ctx: ClientContext,
  url: string,
  key: MintedKey,
  signal: AbortSignal | undefined,
): Promise<TusState> {
  const response = await storageFetch(ctx, url, {
    method: 'HEAD',
    headers: { ...key.headers, 'tus-resumable': TUS_VERSION },
    signal,
  });
  const offset = uploadOffset(response);
  const length = Number(response.headers.get('upload-length'));
  const metadata = parseUploadMetadata(response.headers.get('upload-metadata') ?? '');
  const sha256 = metadata['valet-sha256'];
  if (offset !== length || sha256 === undefined) return { offset };
  const receipt = parseReceipt(metadata['valet-receipt']);
  return {
    offset,
    result: {
      object: key.object,
      size: length,
      sha256,
      etag: metadata['valet-etag'] ?? `"${sha256}"`,
      contentType: metadata.filetype ?? 'application/octet-stream',
      ...(receipt && { receipt }),
    },
  };
}

/** A tus answer's `Upload-Offset`. */
function uploadOffset(response: Response): number {
  const offset = Number(response.headers.get('upload-offset'));
  if (!Number.isSafeInteger(offset)) {
    void response.body?.cancel();
    throw new ValetError('internal_error', 'storage answered without an Upload-Offset');
  }
  return offset;
}

/** tus `Upload-Metadata`: `key base64,key base64…`. */
function parseUploadMetadata(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of header.split(',')) {
    const [name, value] = pair.trim().split(' ');
    if (!name) continue;
    try {
      const binary = atob(value ?? '');
      out[name] = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    } catch {
      // A value that is not base64 is skipped.
    }
  }
  return out;
}

/** A finished upload's receipt, from its `Upload-Metadata` (`valet-receipt`: the receipt as JSON). */
function parseReceipt(text: string | undefined): Receipt | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Receipt>;
    return typeof value.event === 'string' && typeof value.signature === 'string'
      ? { event: value.event, signature: value.signature }
      : undefined;
  } catch {
    return undefined;
  }
}
