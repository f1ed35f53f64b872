import type http from 'node:http';
import { Readable } from 'node:stream';
import type { Issuer } from './issuer.js';

/**
 * Mounts a web-standard issuer handler in Node's `http` server: converts the request to a
 * `Request` (body streamed, not buffered here) and writes the `Response` back. The caller's
 * socket address is passed on for the audit records.
 *
 * @example
 * ```ts
 * http.createServer(toNodeListener(issuer)).listen(8080, '127.0.0.1')
 * ```
 */
export function toNodeListener(
  handler: Pick<Issuer, 'fetch'>,
  options: { origin?: string } = {},
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    void serve(handler, req, res, options.origin).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"internal_error","message":"the issuer failed to handle the request"}}');
      } else res.destroy();
    });
  };
}

async function serve(
  handler: Pick<Issuer, 'fetch'>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string | undefined,
): Promise<void> {
  const host = req.headers.host ?? 'localhost';
  const base = origin ?? `http://${host}`;
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const request = new Request(new URL(req.url ?? '/', base), {
    method,
    headers,
    signal: controller.signal,
    ...(hasBody && { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' }),
  } as RequestInit);
  const response = await handler.fetch(request, {
    ...(req.socket.remoteAddress && { clientAddress: req.socket.remoteAddress }),
  });
  const outHeaders: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    const existing = outHeaders[name];
    if (name === 'set-cookie') outHeaders[name] = [...((existing as string[]) ?? []), value];
    else outHeaders[name] = value;
  });
  res.writeHead(response.status, outHeaders);
  if (!response.body || method === 'HEAD') {
    await response.body?.cancel();
    res.end();
    // A body the handler did not read (a refusal) is drained, so the connection can be reused.
    if (!req.complete) req.resume();
    return;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
  if (!req.complete) req.resume();
}
