import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import type { SignedRequest, StoredPart } from '../types.js';
import { type GcsBucket, ownRequest, send, unexpected } from './store.js';

/**
 * Resumable uploads as GCS resumable sessions. The issuer starts one with a signed `POST`
 * (`x-goog-resumable: start`) that fixes the object's type, its total length
 * (`x-upload-content-length`) and, for a create-only key, `x-goog-if-generation-match: 0`; the
 * store answers with the session URI, which the issuer keeps as the upload's id. Each part is a
 * `PUT` of its bytes to the session URI with its `Content-Range`; the store keeps the bytes it has
 * persisted (a prefix of the object) and makes the object when the last byte arrives. The issuer
 * asks the session for the persisted length (a `PUT` with `Content-Range: bytes *\/total`), which
 * says which parts are held, and checks the object from the store at completion.
 *
 * The session URI is the store's own capability: whoever holds it can send that upload's bytes
 * for a week, without a signature (Google's design). The issuer hands it out only to the upload's
 * owner, in each part's request, and cancels it (`DELETE`) when the upload is cancelled.
 */

/** How an upload is laid out: its total and its parts' size (the last holds the rest). */
export interface SessionLayout {
  size: number;
  partSize: number;
}

/** GCS takes a session's chunks (all but the last) in multiples of 256 KiB. */
export const CHUNK_GRANULE = 256 * 1024;

/** Starts a session for `object`; returns its URI (the upload's id). */
export async function startSession(
  store: GcsBucket,
  options: { object: string; contentType?: string; size: number; partSize: number; noOverwrite?: boolean },
  now: number,
): Promise<string> {
  if (options.partSize % CHUNK_GRANULE !== 0) {
    throw new ValetError('internal_error', 'a GCS session takes parts in multiples of 256 KiB');
  }
  const headers: Record<string, string> = {
    'x-goog-resumable': 'start',
    'content-type': options.contentType ?? 'application/octet-stream',
    'x-upload-content-length': String(options.size),
  };
  if (options.noOverwrite) headers['x-goog-if-generation-match'] = '0';
  // A browser may send the session's chunks only from the origin that started it (GCS's CORS rule).
  if (store.sessionOrigin !== undefined) headers.origin = store.sessionOrigin;
  const response = await ownRequest(store, {
    method: 'POST',
    object: normalizeObjectKey(options.object),
    headers,
    now,
  });
  const location = response.headers.get('location');
  if (response.status !== 201 || !location)
    throw await unexpected(store, 'starting an upload session', response);
  await response.body?.cancel();
  return location;
}

/** The request for one part: its bytes to the session URI at its offset. */
export function sessionPart(options: {
  uploadId: string;
  offset: number;
  size: number;
  total: number;
}): SignedRequest {
  const { offset, size, total } = options;
  return {
    method: 'PUT',
    url: options.uploadId,
    headers: {
      'content-length': String(size),
      'content-range': size === 0 ? `bytes */${total}` : `bytes ${offset}-${offset + size - 1}/${total}`,
    },
  };
}

/** Where a session stands: the bytes persisted so far, or finished (the object exists). */
type SessionState = { finished: false; persisted: number } | { finished: true };

/** Asks the session how far it is (`PUT` with `Content-Range: bytes *\/total`). */
export async function sessionState(store: GcsBucket, uploadId: string, size: number): Promise<SessionState> {
  const response = await send(store, uploadId, {
    method: 'PUT',
    headers: { 'content-range': `bytes */${size}`, 'content-length': '0' },
  });
  await response.body?.cancel();
  if (response.status === 200 || response.status === 201) return { finished: true };
  if (response.status === 308) {
    // No Range: nothing persisted yet. Else `bytes=0-N`.
    const range = /^bytes=0-(\d+)$/.exec(response.headers.get('range') ?? '');
    return { finished: false, persisted: range ? Number(range[1]) + 1 : 0 };
  }
  if (response.status === 404 || response.status === 410 || response.status === 499) {
    throw new ValetError(
      'upload_gone',
      'this upload session is over (cancelled, failed, or older than a week)',
    );
  }
  throw await unexpected(store, 'asking an upload session how far it is', response);
}

/** The parts a session holds whole, and the part it holds in part (its size says so). */
export async function sessionParts(
  store: GcsBucket,
  uploadId: string,
  layout: SessionLayout,
): Promise<StoredPart[]> {
  const state = await sessionState(store, uploadId, layout.size);
  const persisted = state.finished ? layout.size : state.persisted;
  const parts: StoredPart[] = [];
  for (let offset = 0, n = 1; offset < persisted; offset += layout.partSize, n++) {
    const size = Math.min(layout.partSize, layout.size - offset, persisted - offset);
    parts.push({ partNumber: n, etag: '', size });
  }
  return parts;
}

/** Cancels a session: the store drops its bytes (a session already over is not an error). */
export async function cancelSession(store: GcsBucket, uploadId: string): Promise<void> {
  const response = await send(store, uploadId, { method: 'DELETE', headers: { 'content-length': '0' } });
  await response.body?.cancel();
  // GCS answers a cancelled session with 499; one it no longer knows with 404 or 410.
  if (![204, 404, 410, 499].includes(response.status)) {
    throw await unexpected(store, 'cancelling an upload session', response);
  }
}
