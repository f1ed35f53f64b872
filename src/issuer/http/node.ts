import type http from 'node:http';
import { ValetError } from '../../token/errors.js';
import { renderError } from '../../wire/errors.js';
import type { Issuer } from '../api.js';
import { HANDLE, type Incoming, type Outgoing, tooLarge } from './messages.js';

/** Largest request body the adapter gathers, bytes; a larger one is answered 413. */
export const DEFAULT_MAX_BODY = 1024 * 1024;

/** Reads a request body of at most `max` bytes; `null` if it is larger (the rest is not read). */
function readRequestBytes(req: http.IncomingMessage, max: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/**
 * Mounts a web-standard issuer handler in Node's `http` server: converts the request to a
 * `Request` (its body gathered first, up to `maxBody`, default 1 MiB) and writes the `Response`
 * back. The caller's socket address is passed on for the audit records.
 *
 * @example
 * ```ts
 * http.createServer(toNodeListener(issuer)).listen(8080, '127.0.0.1')
 * ```
 */
export function toNodeListener(
  handler: Pick<Issuer, 'fetch'>,
  options: { origin?: string; maxBody?: number } = {},
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    void serve(handler, req, res, options.origin, options.maxBody ?? DEFAULT_MAX_BODY).catch(() => {
      if (!res.headersSent) {
        const failed = renderError(
          new ValetError('internal_error', 'the issuer failed to handle the request'),
        );
        res.writeHead(failed.status, failed.headers).end(failed.body);
      } else res.destroy();
    });
  };
}

async function serve(
  handler: Pick<Issuer, 'fetch'>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string | undefined,
  maxBody: number,
): Promise<void> {
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  // The issuer's requests are small JSON: the body is gathered here (bounded) and handed over as
  // bytes, which costs far less per request than adapting the Node stream to a web stream.
  const body = hasBody ? await readRequestBytes(req, maxBody) : undefined;
  if (body === null) {
    const refused = renderError(tooLarge(maxBody));
    res.writeHead(refused.status, { ...refused.headers, connection: 'close' }).end(refused.body);
    return;
  }
  const url = new URL(req.url ?? '/', origin ?? `http://${req.headers.host ?? 'localhost'}`);
  const makeRequest = () => {
    return new Request(url, {
      method,
      headers: headersOf(req.rawHeaders),
      ...(body !== undefined && { body }),
    });
  };
  const clientAddress = req.socket.remoteAddress;
  const own = (handler as { [HANDLE]?: (incoming: Incoming) => Promise<Outgoing> })[HANDLE];
  if (typeof own === 'function') {
    // Valet's issuer: no undici Request or Response unless a hook asks for the Request.
    const incoming = nodeIncoming(req, method, url, body, makeRequest);
    const out = await own.call(handler, incoming);
    res.writeHead(out.status, out.headers);
    res.end(method === 'HEAD' ? undefined : (out.body ?? undefined));
    return;
  }
  const response = await handler.fetch(makeRequest(), { ...(clientAddress && { clientAddress }) });
  await writeResponse(res, response, method);
}

/** A Node request as the issuer's {@link Incoming}; the web Request is built only if asked for. */
function nodeIncoming(
  req: http.IncomingMessage,
  method: string,
  url: URL,
  body: Uint8Array | undefined,
  makeRequest: () => Request,
): Incoming {
  let request: Request | undefined;
  return {
    method,
    url,
    header: (name) => {
      const value = req.headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
    text: async (limit) => {
      if (body !== undefined && body.byteLength > limit) throw tooLarge(limit);
      return body === undefined
        ? ''
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    },
    request: () => {
      request ??= liteRequest(method, url, req.rawHeaders, makeRequest);
      return request;
    },
    clientAddress: req.socket.remoteAddress,
  };
}

/** Writes a web Response to a Node response, streaming its body with backpressure. */
async function writeResponse(res: http.ServerResponse, response: Response, method: string): Promise<void> {
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
    return;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

const REAL = Symbol('real request');

interface Lite {
  liteMethod: string;
  liteUrl: URL;
  rawHeaders: string[];
  headersCache: Headers | undefined;
  realCache: Request | undefined;
  make: () => Request;
  [REAL](): Request;
}

// A Request whose method, url and headers are read straight from Node's request; anything else
// (the body, the signal, clone()…) builds the real undici Request on first use and delegates to
// it. `instanceof Request` holds. Most hooks only read a header, and skip that cost.
const liteProto: Record<PropertyKey, unknown> = {
  get method() {
    return (this as unknown as Lite).liteMethod;
  },
  get url() {
    return (this as unknown as Lite).liteUrl.href;
  },
  get headers() {
    const self = this as unknown as Lite;
    self.headersCache ??= headersOf(self.rawHeaders);
    return self.headersCache;
  },
  [REAL](this: Lite) {
    this.realCache ??= this.make();
    return this.realCache;
  },
};
for (const name of [
  'body',
  'bodyUsed',
  'cache',
  'credentials',
  'destination',
  'duplex',
  'integrity',
  'keepalive',
  'mode',
  'redirect',
  'referrer',
  'referrerPolicy',
  'signal',
]) {
  Object.defineProperty(liteProto, name, {
    get(this: Lite) {
      return (this[REAL]() as unknown as Record<string, unknown>)[name];
    },
  });
}
for (const name of ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text']) {
  liteProto[name] = function (this: Lite, ...args: unknown[]) {
    const real = this[REAL]() as unknown as Record<string, (...a: unknown[]) => unknown>;
    return real[name]?.apply(real, args);
  };
}
Object.setPrototypeOf(liteProto, Request.prototype);

function liteRequest(method: string, url: URL, rawHeaders: string[], make: () => Request): Request {
  const lite = Object.create(liteProto) as Lite;
  lite.liteMethod = method;
  lite.liteUrl = url;
  lite.rawHeaders = rawHeaders;
  lite.make = make;
  return lite as unknown as Request;
}

/** Web-standard Headers from Node's raw header list (repeated headers kept). */
function headersOf(rawHeaders: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < rawHeaders.length; i += 2)
    headers.append(rawHeaders[i] as string, rawHeaders[i + 1] as string);
  return headers;
}
