import { ValetError } from '../../token/errors.js';

/**
 * One request as the issuer sees it. The web-standard `fetch(Request)` entry wraps a `Request`;
 * the Node adapter wraps an `IncomingMessage` directly and builds a `Request` only if something
 * asks for one (an app's `authenticate` hook): constructing undici `Request`/`Response` objects
 * costs more than minting a key (see docs/benchmarks.md).
 */
export interface Incoming {
  readonly method: string;
  readonly url: URL;
  /** A request header (names are case-insensitive), or null. */
  header(name: string): string | null;
  /** The body as UTF-8 text; `entity_too_large` beyond `limit` bytes. */
  text(limit: number): Promise<string>;
  /** The web-standard Request (built on first use when the exchange did not start from one). */
  request(): Request;
  readonly clientAddress: string | undefined;
}

/** A response as the issuer produces it: small, fully built. */
export interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

const BASE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'x-content-type-options': 'nosniff',
};

/** The issuer's own handler, on {@link Incoming}/{@link Outgoing} (for the Node adapter). */
export const HANDLE = Symbol('valet.issuer.handle');

/** A JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Outgoing {
  return { status, headers: { ...BASE_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A response without a body. */
export function empty(status: number, headers: Record<string, string> = {}): Outgoing {
  return { status, headers, body: null };
}

/** The web-standard Response for an {@link Outgoing}. */
export function toResponse(out: Outgoing): Response {
  return new Response(out.body, { status: out.status, headers: out.headers });
}

export function tooLarge(limit: number): ValetError {
  return new ValetError('entity_too_large', `the body is larger than ${limit} bytes`);
}

/** Wraps a web-standard Request. */
export function fromRequest(request: Request, clientAddress: string | undefined): Incoming {
  return {
    method: request.method,
    url: new URL(request.url),
    header: (name) => request.headers.get(name),
    text: (limit) => readLimited(request, limit),
    request: () => request,
    clientAddress,
  };
}

async function readLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
