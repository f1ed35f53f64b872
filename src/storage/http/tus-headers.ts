import type http from 'node:http';
import { Metadata } from '@tus/utils';
import { mediaTypeEssence } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import type { TusVersion } from '../../wire/storage-api.js';
import type { UploadIntent } from '../disk/uploads.js';
import { header } from './exchange.js';

/** tus 1.0 request headers, as storage reads them before @tus/server sees a request. */

export const TUS_VERSION: TusVersion = '1.0.0';
/** tus 1.0: the Content-Type of every PATCH. */
export const TUS_CHUNK_TYPE = 'application/offset+octet-stream';
/** Digests a tus client may send in `Upload-Checksum` (checksum extension). */
export const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5'];

/** Methods a tus client may name in `X-HTTP-Method-Override` on a POST. */
const OVERRIDABLE = ['PATCH', 'HEAD', 'DELETE', 'POST'];

/**
 * The method a tus request stands for. tus 1.0: "The X-HTTP-Method-Override request header MUST
 * be a string which MUST be interpreted as the request's method by the Server, if the header is
 * presented" (for environments that can send only GET and POST). Storage takes it on a POST, for
 * the methods of an upload.
 */
export function tusMethod(req: http.IncomingMessage): string {
  const override = header(req, 'x-http-method-override');
  if (override === undefined) return req.method ?? '';
  const method = override.trim().toUpperCase();
  if (req.method !== 'POST' || !OVERRIDABLE.includes(method)) {
    throw new ValetError(
      'bad_request',
      `X-HTTP-Method-Override names ${OVERRIDABLE.join(', ')} on a POST, not ${JSON.stringify(override.slice(0, 20))} on a ${req.method}`,
    );
  }
  return method;
}

/**
 * tus 1.0 before @tus/server sees a request: every request but OPTIONS names the version
 * (`Tus-Resumable`; "If the version specified by the Client is not supported by the Server, it
 * MUST respond with the 412 Precondition Failed status and MUST include the Tus-Version header"),
 * and a PATCH sends `application/offset+octet-stream` ("otherwise the server SHOULD return a 415
 * Unsupported Media Type status", parameters allowed) at an `Upload-Offset` ("The Upload-Offset
 * header's value MUST be equal to the current offset": one it cannot read is a bad request).
 */
export function checkTusRequest(req: http.IncomingMessage, res: http.ServerResponse, method: string): void {
  if (header(req, 'tus-resumable') !== TUS_VERSION) {
    res.setHeader('Tus-Version', TUS_VERSION);
    throw new ValetError('precondition_failed', `this server speaks tus ${TUS_VERSION} (Tus-Resumable)`);
  }
  if (method !== 'PATCH') return;
  if (mediaTypeEssence(header(req, 'content-type') ?? '') !== TUS_CHUNK_TYPE) {
    throw new ValetError('unsupported_media_type', `a PATCH sends its bytes as ${TUS_CHUNK_TYPE}`);
  }
  if (!/^\d{1,16}$/.test(header(req, 'upload-offset') ?? '')) {
    throw new ValetError(
      'bad_request',
      'a PATCH names the offset of its bytes in Upload-Offset (a whole number)',
    );
  }
}

/** `Upload-Checksum` of a PATCH (checksum extension), at its `Upload-Offset`. */
export function chunkChecksum(req: http.IncomingMessage, method: string): UploadIntent['checksum'] {
  const checksum = header(req, 'upload-checksum');
  if (checksum === undefined) return undefined;
  const match = /^([a-z0-9]+) ([A-Za-z0-9+/]+={0,2})$/.exec(checksum.trim());
  if (!match || !CHECKSUM_ALGORITHMS.includes(match[1] as string)) {
    throw new ValetError(
      'bad_request',
      `Upload-Checksum must be "<${CHECKSUM_ALGORITHMS.join('|')}> <base64 digest>"`,
    );
  }
  const offset = method === 'PATCH' ? Number(header(req, 'upload-offset') ?? 'NaN') : 0;
  if (!Number.isSafeInteger(offset)) return undefined;
  return { offset, algorithm: match[1] as string, digest: match[2] as string };
}

/**
 * The client's `Upload-Metadata`. An empty header is no metadata (tuspy sends one): tus 1.0 "The
 * Upload-Metadata request and response header MUST consist of one or more comma-separated
 * key-value pairs", so storage takes it as absent and never answers one itself.
 */
export function uploadMetadata(req: http.IncomingMessage): Record<string, string | null> {
  try {
    const raw = header(req, 'upload-metadata');
    return raw === undefined || raw.trim() === '' ? {} : Metadata.parse(raw);
  } catch {
    throw new ValetError('bad_request', 'the Upload-Metadata header is malformed');
  }
}
