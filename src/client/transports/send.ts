import type { ClientContext } from '../context.js';
import { errorFrom, networkError, stored } from '../errors.js';
import { isNode } from '../resume.js';
import type { BlobLike, Progress } from '../types.js';
import { nodeSend } from './node-http.js';
import { browserXhr, formOf, sendWithXhr, type Target } from './xhr.js';

/**
 * The transports: how a body reaches storage. In a browser a Blob goes through XMLHttpRequest
 * (fetch reports no upload progress, and streams a request body only over HTTP/2); in Node
 * through node:http (Node's fetch buffers the rest of a slow upload in memory); with a fetch of
 * the caller's own, through it. A refusal is thrown as a `ValetError` with the store's code.
 */

/** A request to storage; a refusal becomes a `ValetError`. */
export async function storageFetch(ctx: ClientContext, url: string, init: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await ctx.fetch(url, init);
  } catch (error) {
    throw networkError(error, init.signal, new URL(url).origin, 'storage');
  }
  if (!stored(response)) throw await errorFrom(response);
  return response;
}

/** Sends a Blob (or a slice of one) as the request's body, with its length and progress. */
export function sendBlob(
  ctx: ClientContext,
  target: Target,
  blob: BlobLike,
  onProgress: ((p: Progress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  if (!ctx.customFetch && browserXhr() !== undefined && blob instanceof Blob) {
    return sendWithXhr(target, blob, onProgress, signal);
  }
  const headers = { ...target.headers, 'content-length': String(blob.size) };
  return sendStream(ctx, target, headers, blob.stream(), blob.size, onProgress, signal);
}

/** Sends a stream as the request's body (`total` bytes if known), counting progress as it goes. */
export async function sendStream(
  ctx: ClientContext,
  target: { url: string; method: string },
  headers: Record<string, string>,
  source: ReadableStream<Uint8Array>,
  total: number | undefined,
  onProgress: ((p: Progress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  let loaded = 0;
  const count = (n: number) => {
    loaded += n;
    onProgress?.({ loaded, ...(total !== undefined && { total }) });
  };
  if (!ctx.customFetch && isNode()) {
    // Node's fetch does not hold back a request body for a slow server (it buffers the rest in
    // memory): node:http does, so a large upload stays within a few MiB of memory.
    const response = await nodeSend(target.url, target.method, headers, source, signal, count);
    if (!stored(response)) throw await errorFrom(response);
    return response;
  }
  const counted = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        count(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
  return storageFetch(ctx, target.url, {
    method: target.method,
    headers,
    body: counted,
    signal,
    duplex: 'half',
  } as RequestInit);
}

/** An S3-style POST policy upload: the signed fields, then the file, as a multipart form. */
export async function sendForm(
  ctx: ClientContext,
  target: Target,
  blob: BlobLike,
  onProgress: (p: Progress) => void,
  signal: AbortSignal | undefined,
): Promise<Response> {
  if (!ctx.customFetch && browserXhr() !== undefined && blob instanceof Blob) {
    return sendWithXhr(target, blob, onProgress, signal);
  }
  const file = blob instanceof Blob ? blob : await new Response(blob.stream()).blob();
  const response = await storageFetch(ctx, target.url, {
    method: 'POST',
    body: formOf(target, file),
    signal,
  });
  onProgress({ loaded: blob.size, total: blob.size });
  return response;
}
