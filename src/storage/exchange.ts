import http from 'node:http';
import type { ValetClaims } from '../token/claims.js';
import { type ErrorCode, ValetError } from '../token/errors.js';
import { renderError, wantsHtml } from '../wire/errors.js';

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
 * readable page. An unread request body is not drained: the connection closes after the answer.
 */
export function writeRefusal(req: http.IncomingMessage, res: http.ServerResponse, error: ValetError): void {
  if (!req.complete) res.shouldKeepAlive = false;
  res.removeHeader('Content-Disposition');
  res.removeHeader('Content-Length');
  const html = wantsHtml(req.headers.accept) && (req.method === 'GET' || req.method === 'HEAD');
  const rendered = renderError(error, { html });
  for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value);
  res.setHeader('Content-Length', Buffer.byteLength(rendered.body));
  res.writeHead(rendered.status).end(req.method === 'HEAD' ? undefined : rendered.body);
}

/** A whole HTTP/1.1 refusal as raw text, for a connection the HTTP parser gave up on. */
export function rawRefusal(error: ValetError): string {
  const rendered = renderError(error);
  const head = Object.entries({
    ...rendered.headers,
    'content-length': String(Buffer.byteLength(rendered.body)),
    connection: 'close',
  }).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${rendered.status} ${http.STATUS_CODES[rendered.status]}\r\n${head.join('')}\r\n${rendered.body}`;
}
