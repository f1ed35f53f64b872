import http from 'node:http';
import type { Logger } from 'pino';
import type { ValetClaims } from '../../token/claims.js';
import { type ErrorCode, ValetError } from '../../token/errors.js';
import { asValetError, renderError, wantsHtml } from '../../wire/errors.js';
import type { HoldClock } from '../disk/hold-clock.js';

/** One request being served, and what its log line will say. */
export interface Exchange {
  readonly id: string;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly started: number;
  claims?: ValetClaims;
  code?: ErrorCode;
  bytesIn: number;
  bytesOut: number;
  /** For a request with a body: the time storage held it unread (see `watchBodyRate`). */
  held?: HoldClock;
}

/** A successful JSON answer (refusals go through `renderError`). */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/** `405`, with `Allow` set on the response. */
export function methodNotAllowed(res: http.ServerResponse, allow: string): ValetError {
  res.setHeader('Allow', allow);
  return new ValetError('method_not_allowed', 'method not allowed on this path');
}

/** A header that may appear once: its value, or undefined (a repeated one is refused). */
export function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) throw new ValetError('bad_request', `more than one ${name} header`);
  return value;
}

/** The request target's path and query, split (the query may hold a valet key: never logged). */
export function splitTarget(req: http.IncomingMessage): { path: string; query: string } {
  const target = req.url ?? '';
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/**
 * Writes a refusal: Valet's JSON error, or for a person who opened a link in a browser a
 * readable page. A request whose body was not read is answered and then closed, after a
 * lingering close (see {@link linger}).
 */
export function writeRefusal(req: http.IncomingMessage, res: http.ServerResponse, error: ValetError): void {
  if (!req.complete) linger(req);
  res.removeHeader('Content-Disposition');
  res.removeHeader('Content-Length');
  const html = wantsHtml(req.headers.accept) && (req.method === 'GET' || req.method === 'HEAD');
  const rendered = renderError(error, { html });
  for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', Buffer.byteLength(rendered.body));
  res.writeHead(rendered.status).end(req.method === 'HEAD' ? undefined : rendered.body);
}

/** A whole HTTP/1.1 refusal as raw text, for a connection the HTTP parser gave up on. */
export function rawRefusal(error: ValetError, head = false, extra: Record<string, string> = {}): string {
  const rendered = renderError(error);
  const lines = Object.entries({
    ...rendered.headers,
    ...extra,
    'content-length': String(Buffer.byteLength(rendered.body)),
    connection: 'close',
  }).map(([name, value]) => `${name}: ${value}\r\n`);
  // An answer to HEAD has the length of the body it would have had, and no body (RFC 9110 §9.3.2).
  return `HTTP/1.1 ${rendered.status} ${http.STATUS_CODES[rendered.status]}\r\n${lines.join('')}\r\n${head ? '' : rendered.body}`;
}

/** The answer to a request Node's HTTP parser refused (no body if it was a HEAD). */
export function parserRefusal(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): {
  code: ErrorCode;
  raw: string;
} {
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'headers_too_large'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request_timeout'
        : 'bad_request';
  const head = error.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  const message = code === 'bad_request' ? 'malformed HTTP request' : 'request refused';
  return { code, raw: rawRefusal(new ValetError(code, message), head) };
}

/** The most of a refused body read (and thrown away) before its connection is cut. */
const LINGER_BYTES = 8 * 1024 * 1024;
/** The longest a refused request is read for before its connection is cut, ms. */
const LINGER_MS = 5_000;

/**
 * A lingering close, as nginx does: the unread rest of a refused request's body is read and thrown
 * away, up to {@link LINGER_BYTES} or {@link LINGER_MS}; past either the connection is cut.
 * Closing a socket with unread bytes makes the kernel send a reset, which can reach the client
 * before the refusal: it then sees `EPIPE` or `ECONNRESET` instead of the 4xx that says why. When
 * the client asked to close after this request, Node closes the socket as soon as the answer is
 * written, unread bytes and all: for this socket that becomes a half-close (the answer and a FIN
 * go out, reading goes on) and the socket is destroyed once the client has closed its side too.
 */
export function linger(req: http.IncomingMessage): void {
  let read = 0;
  const socket = req.socket;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
  };
  socket.once('end', cut);
  req.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER_BYTES) cut();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** One log line per request: never the query string (it may hold a valet key). */
export function logExchange(log: Logger, ex: Exchange): void {
  const { req, res, claims } = ex;
  const path = splitTarget(req).path.slice(0, 2048);
  log.info(
    {
      reqId: ex.id,
      method: req.method,
      path,
      // No answer written: no status (200 would say it was served). A client that cut its own
      // request never read the answer written after: it is logged, marked as not delivered.
      status: res.headersSent ? res.statusCode : null,
      ...(req.readableAborted && {
        outcome: 'the client closed the connection mid-request',
        delivered: false,
      }),
      ...(!req.readableAborted && !res.headersSent && { outcome: 'closed before an answer was sent' }),
      ...(ex.code && { code: ex.code }),
      ...(claims && { op: claims.op, sub: claims.sub, jti: claims.jti }),
      bytesIn: ex.bytesIn,
      bytesOut: ex.bytesOut,
      ms: Math.round((performance.now() - ex.started) * 10) / 10,
      ...(res.headersSent && !res.writableFinished && { aborted: true }),
    },
    'request',
  );
}

/**
 * Answers a failed exchange with its error body (logged by what it means: a bug at error, a full
 * disk at warn, a refusal with a cause at debug), or cuts the connection if a response was
 * already under way.
 */
export function failExchange(log: Logger, ex: Exchange, error: unknown): void {
  const { req, res } = ex;
  const valetError = asValetError(error, 'storage failed to handle the request');
  ex.code ??= valetError.code;
  if (valetError.code === 'internal_error') {
    log.error({ reqId: ex.id, err: valetError.cause ?? valetError }, 'request failed');
  } else if (valetError.code === 'insufficient_storage') {
    log.warn({ reqId: ex.id, code: valetError.code }, 'out of disk space: refused with 507');
  } else if (valetError.cause !== undefined) {
    log.debug({ reqId: ex.id, code: valetError.code, err: valetError.cause }, 'request refused');
  }
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  writeRefusal(req, res, valetError);
}
