import { ValetError } from '../token/errors.js';

/** What one server lets a browser page do (its methods and headers). */
export interface CorsRules {
  /** `Access-Control-Allow-Methods` of a preflight. */
  methods: string;
  /** `Access-Control-Allow-Headers` of a preflight. */
  allowHeaders: string;
  /** `Access-Control-Expose-Headers` of an actual response. */
  exposeHeaders: string;
}

/** A request's CORS headers (names as sent, values or undefined). */
export interface CorsRequest {
  origin: string | undefined;
  /** `Access-Control-Request-Method`: set only on a preflight. */
  requestMethod: string | undefined;
  /** `Access-Control-Request-Private-Network: true` (Private Network Access). */
  privateNetwork?: boolean;
}

const MAX_AGE = '600';

/**
 * CORS for the issuer and storage alike: only configured origins get
 * `Access-Control-Allow-Origin`, echoed exactly (with `Vary: Origin`), or `*` if `*` was configured
 * explicitly. Credentials are never allowed: a valet key or a bearer token is the credential, and
 * it travels in the URL or the `Authorization` header, never in a cookie. The policy only computes
 * headers; each server writes them its own way.
 *
 * @example
 * ```ts
 * const cors = new CorsPolicy(['https://app.example'], { methods: 'GET, POST', allowHeaders: 'authorization', exposeHeaders: 'etag' })
 * cors.preflight({ origin: 'https://app.example', requestMethod: 'POST' }) // headers for the 204
 * ```
 */
export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #any: boolean;
  readonly #rules: CorsRules;

  /** Throws `invalid_options` for anything that is not `*` or an exact origin like `https://app.example`. */
  constructor(origins: readonly string[], rules: CorsRules) {
    for (const origin of origins) {
      if (origin !== '*' && !isOrigin(origin)) {
        throw new ValetError(
          'invalid_options',
          `CORS origin ${JSON.stringify(origin)} must be "*" or scheme://host[:port] with no path or trailing slash`,
        );
      }
    }
    this.#origins = new Set(origins);
    this.#any = this.#origins.has('*');
    this.#rules = rules;
  }

  /** True if a browser page of `origin` may call this server. */
  allows(origin: string): boolean {
    return this.#any || this.#origins.has(origin);
  }

  /** The CORS headers of an actual (non-preflight) response, refusals included. */
  responseHeaders(origin: string | undefined): Record<string, string> {
    const headers: Record<string, string> = this.#any ? {} : { vary: 'Origin' };
    if (origin === undefined || !this.allows(origin)) return headers;
    headers['access-control-allow-origin'] = this.#any ? '*' : origin;
    headers['access-control-expose-headers'] = this.#rules.exposeHeaders;
    return headers;
  }

  /**
   * A preflight (an `OPTIONS` with `Origin` and `Access-Control-Request-Method`): the headers of
   * its `204` for a configured origin; `403 origin_not_allowed` otherwise. `undefined` if the
   * request is not a preflight. `rules` overrides the methods and headers (tus routes allow more).
   */
  preflight(request: CorsRequest, rules: Partial<CorsRules> = {}): Record<string, string> | undefined {
    const { origin, requestMethod } = request;
    if (origin === undefined || requestMethod === undefined) return undefined;
    if (!this.allows(origin)) {
      throw new ValetError('origin_not_allowed', 'this origin may not call this server from a browser');
    }
    const headers: Record<string, string> = {
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'access-control-allow-origin': this.#any ? '*' : origin,
      'access-control-allow-methods': rules.methods ?? this.#rules.methods,
      'access-control-allow-headers': rules.allowHeaders ?? this.#rules.allowHeaders,
      'access-control-max-age': MAX_AGE,
    };
    // Private Network Access: a public page may talk to a server on a private address.
    if (request.privateNetwork) headers['access-control-allow-private-network'] = 'true';
    return headers;
  }
}

function isOrigin(value: string): boolean {
  try {
    const parsed = new URL(value);
    return parsed.origin === value && /^https?:$/.test(parsed.protocol);
  } catch {
    return false;
  }
}
