import { ValetError } from '../../token/errors.js';
import { unstorableReason } from '../../token/text.js';

/**
 * Routes as data: each route is a method, a path pattern (`/v1/shares/:id`), who may call it, and
 * its handler. `404` and `405` (with `Allow`) come from the table, not from the order of `if`s.
 * Parameters are percent-decoded; a malformed one is `400`, never a crash.
 */

/** Who may call a route (each server decides what its kinds mean). */
export type Access =
  /** Anyone (health, public keys, share links). */
  | 'public'
  /** An authenticated caller. */
  | 'caller'
  /** An authenticated caller listed in `admins`. */
  | 'admin'
  /** Valet storage, with the HMAC signature of the shared secret (`Valet-Signature`). */
  | 'storage';

/** What the table needs of a route: its method and its path pattern. */
export interface RouteShape {
  method: string;
  /** Segments; `:name` matches one non-empty segment and binds it. */
  path: string;
}

/** A route matched with its parameters. */
export interface Match<R> {
  route: R;
  params: Record<string, string>;
}

/** The route table of one server. */
export class Router<R extends RouteShape> {
  readonly #routes: Array<{ route: R; segments: string[] }> = [];

  /** Adds routes; a method and path may appear once. */
  add(...routes: R[]): this {
    for (const route of routes) {
      if (this.#routes.some(({ route: r }) => r.method === route.method && r.path === route.path)) {
        throw new ValetError('invalid_options', `route ${route.method} ${route.path} is defined twice`);
      }
      this.#routes.push({ route, segments: route.path.split('/') });
    }
    return this;
  }

  /** The route for a request, `404 not_found` for an unknown path, `405` (with `allow`) for a method. */
  match(method: string, path: string): Match<R> {
    const segments = path.split('/');
    const allowed = new Set<string>();
    for (const { route, segments: pattern } of this.#routes) {
      const raw = bind(pattern, segments);
      if (!raw) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return {
          route,
          params: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decodeSegment(v)])),
        };
      }
      allowed.add(route.method);
    }
    if (allowed.size === 0) throw new ValetError('not_found', 'no such route');
    throw new MethodNotAllowed([...allowed, 'OPTIONS']);
  }

  /** The methods a path answers to (for `OPTIONS` and `Allow`). */
  methods(path: string): string[] {
    const segments = path.split('/');
    return this.#routes.filter((r) => bind(r.segments, segments)).map((r) => r.route.method);
  }
}

/** `405`, with the methods the path does answer to. */
export class MethodNotAllowed extends ValetError {
  readonly allow: string[];

  constructor(allow: string[]) {
    super('method_not_allowed', `use ${allow.filter((m) => m !== 'OPTIONS').join(' or ')} on this path`);
    this.allow = allow;
  }
}

function bind(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] as string;
    const got = segments[i] as string;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      params[want.slice(1)] = got;
    } else if (want !== got) return undefined;
  }
  return params;
}

function decodeSegment(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new ValetError('bad_request', 'the path has malformed percent-encoding');
  }
  const reason = unstorableReason(decoded);
  if (reason !== undefined) throw new ValetError('bad_request', `the path holds ${reason}`);
  return decoded;
}
