import type { IncomingMessage, ServerResponse } from 'node:http';
import { CorsPolicy, type CorsRules } from '../wire/cors.js';

/** What storage lets a browser page do on `/o/…` (tus routes allow more, see `tus.ts`). */
const STORAGE_CORS: CorsRules = {
  methods: 'GET, HEAD, PUT, DELETE',
  allowHeaders: 'Authorization, Content-Type, Range, If-None-Match, If-Modified-Since, If-Range',
  exposeHeaders:
    'ETag, Content-Length, Content-Range, Accept-Ranges, Content-Disposition, Last-Modified, X-Request-Id',
};

/** Storage's CORS policy for `origins` (validated: `invalid_options` for a malformed one). */
export function storageCors(origins: readonly string[]): CorsPolicy {
  return new CorsPolicy(origins, STORAGE_CORS);
}

/** Adds the CORS headers of an actual (non-preflight) response. */
export function applyCors(policy: CorsPolicy, req: IncomingMessage, res: ServerResponse): void {
  for (const [name, value] of Object.entries(policy.responseHeaders(req.headers.origin))) {
    if (name === 'vary') res.appendHeader('Vary', value);
    else res.setHeader(name, value);
  }
}

/**
 * Answers a preflight with `204` (or throws `origin_not_allowed`); false if the request is not a
 * preflight. `rules` overrides the methods and headers allowed.
 */
export function answerPreflight(
  policy: CorsPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  rules: Partial<CorsRules> = {},
): boolean {
  const headers = policy.preflight(
    {
      origin: req.headers.origin,
      requestMethod: req.headers['access-control-request-method'],
      privateNetwork: req.headers['access-control-request-private-network'] === 'true',
    },
    rules,
  );
  if (headers === undefined) return false;
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'vary') res.appendHeader('Vary', value);
    else res.setHeader(name, value);
  }
  res.writeHead(204).end();
  return true;
}
