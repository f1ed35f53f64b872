import type { IncomingMessage, ServerResponse } from 'node:http';
import { ValetError } from '../token/errors.js';

const ALLOW_METHODS = 'GET, HEAD, PUT, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, Range, If-None-Match, If-Modified-Since, If-Range';
const EXPOSE_HEADERS =
  'ETag, Content-Length, Content-Range, Accept-Ranges, Content-Disposition, Last-Modified, X-Request-Id';
const MAX_AGE = '600';

/**
 * CORS for storage: only configured origins get `Access-Control-Allow-Origin`, echoed exactly
 * (with `Vary: Origin`), or `*` if `*` was configured explicitly. Credentials are never allowed:
 * a valet key is the credential, and it travels in the URL or the `Authorization` header.
 */
export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #any: boolean;

  /** Throws `invalid_options` for anything that is not `*` or an exact origin like `https://app.example`. */
  constructor(origins: readonly string[]) {
    for (const origin of origins) {
      if (origin === '*') continue;
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
        throw new ValetError(
          'invalid_options',
          `CORS origin ${JSON.stringify(origin)} must be "*" or scheme://host[:port] with no path or trailing slash`,
        );
      }
    }
    this.#origins = new Set(origins);
    this.#any = this.#origins.has('*');
  }

  /** True if a browser page of `origin` may call storage. */
  allows(origin: string): boolean {
    return this.#allowed(origin);
  }

  #allowed(origin: string): boolean {
    return this.#any || this.#origins.has(origin);
  }

  /** Adds CORS headers to an actual (non-preflight) response. */
  apply(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!this.#any) res.appendHeader('Vary', 'Origin');
    if (origin === undefined || !this.#allowed(origin)) return;
    res.setHeader('Access-Control-Allow-Origin', this.#any ? '*' : origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  }

  /**
   * Answers a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`):
   * `204` with the allowed methods and headers for a configured origin, `403 origin_not_allowed`
   * otherwise. Returns false if the request is not a preflight.
   */
  preflight(
    req: IncomingMessage,
    res: ServerResponse,
    methods = ALLOW_METHODS,
    headers = ALLOW_HEADERS,
  ): boolean {
    const origin = req.headers.origin;
    const method = req.headers['access-control-request-method'];
    if (origin === undefined || method === undefined) return false;
    res.appendHeader('Vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    if (!this.#allowed(origin)) {
      throw new ValetError('origin_not_allowed', 'this origin may not call storage from a browser');
    }
    res.setHeader('Access-Control-Allow-Origin', this.#any ? '*' : origin);
    res.setHeader('Access-Control-Allow-Methods', methods);
    res.setHeader('Access-Control-Allow-Headers', headers);
    res.setHeader('Access-Control-Max-Age', MAX_AGE);
    // Private Network Access: a public page may talk to a storage server on a private address.
    if (req.headers['access-control-request-private-network'] === 'true') {
      res.setHeader('Access-Control-Allow-Private-Network', 'true');
    }
    res.writeHead(204).end();
    return true;
  }
}
