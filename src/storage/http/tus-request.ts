import type http from 'node:http';
import { mediaTypeEssence } from '../../token/claims.js';
import { codeForStatus, ERROR_STATUS, ValetError } from '../../token/errors.js';
import { type ErrorBody, renderError } from '../../wire/errors.js';
import { ownChunk } from '../disk/chunk-release.js';
import { TUS_CHUNK_TYPE } from './tus-headers.js';

/** How a Node request becomes the web Request @tus/server takes, and its refusals Valet's. */

/** A refusal @tus/server produced, as Valet's JSON error (its own text becomes the message). */
export function tusRefusal(status: number, body: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as Partial<ErrorBody> | undefined)?.error;
  const code = error && error.code in ERROR_STATUS ? error.code : codeForStatus(status);
  const message = error?.message ?? (body.trim() || 'the upload request was refused');
  return renderError(new ValetError(code, message));
}

/**
 * The web Request tus gets, for the method the request stands for (see `tusMethod`): without the
 * query (it may hold the key; tus reads the id from the path's end), with a chunk's content type
 * as its essence (tus compares it whole; parameters are allowed), and without an empty
 * `Upload-Metadata` or the method override (tus would refuse both).
 */
export function webRequest(
  req: http.IncomingMessage,
  method: string,
  onBytes: (bytes: number) => void,
): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    if (name === 'x-http-method-override' || (name === 'upload-metadata' && value.trim() === '')) continue;
    const essence = name === 'content-type' ? mediaTypeEssence(value) : '';
    headers.append(name, essence === TUS_CHUNK_TYPE ? essence : value);
  }
  const hasBody = method === 'PATCH' || method === 'POST';
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  return new Request(`http://${req.headers.host ?? 'localhost'}${q === -1 ? target : target.slice(0, q)}`, {
    method,
    headers,
    ...(hasBody && { body: nodeBody(req, onBytes), duplex: 'half' }),
  } as RequestInit);
}

/**
 * A Node request body as a web stream of its own buffers (no copy), read only as fast as it is
 * consumed; it errors if the client goes away before the end.
 */
function nodeBody(req: http.IncomingMessage, onBytes: (bytes: number) => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          onBytes(chunk.length);
          // Ours alone: the part file's writer frees it once written (disk/chunk-release.ts).
          ownChunk(chunk);
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on('end', () => controller.close());
        const cut = () => {
          if (!req.complete)
            controller.error(new ValetError('incomplete_body', 'the connection closed mid-body'));
        };
        req.on('error', cut);
        req.on('close', cut);
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        req.pause();
      },
    },
    { highWaterMark: 4 },
  );
}

export function isTusError(error: unknown): error is { status_code: number; body: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status_code?: unknown }).status_code === 'number' &&
    typeof (error as { body?: unknown }).body === 'string'
  );
}
