import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CorsPolicy, type CorsRules } from '../../wire/cors.js';

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

/** How many refused origins are warned about by name; past that, once that there are more. */
const NAMED_ORIGINS = 100;

/**
 * Warns once per origin that a browser page called storage from an origin `--cors-origin` does
 * not list: the browser then refuses the page the answer, and the page's user sees only a network
 * error, so the operator must hear it here (at warn, not in the request's info line).
 */
export class RefusedOrigins {
  readonly #seen = new Set<string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  refused(origin: string): void {
    if (this.#seen.has(origin) || this.#seen.size > NAMED_ORIGINS) return;
    this.#seen.add(origin);
    if (this.#seen.size > NAMED_ORIGINS) {
      this.#log.warn(
        `more than ${NAMED_ORIGINS} origins not in --cors-origin called storage; no more are named`,
      );
      return;
    }
    this.#log.warn(
      { origin },
      `a page at ${origin} called storage from a browser, and that origin is not in --cors-origin: ` +
        `browsers refuse the page the answer. If the page is yours, add --cors-origin ${origin}`,
    );
  }
}

/** Adds the CORS headers of an actual (non-preflight) response; a refused origin is warned about. */
export function applyCors(
  policy: CorsPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  refused?: RefusedOrigins,
): void {
  const origin = req.headers.origin;
  if (origin !== undefined && refused && !policy.allows(origin)) refused.refused(origin);
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
