import { isValetError, ValetError } from '../../token/errors.js';
import { verifyRequestSignature } from '../../token/signature.js';
import { CorsPolicy } from '../../wire/cors.js';
import { asValetError, renderError } from '../../wire/errors.js';
import type { CallerInfo } from '../api.js';
import type { Identity } from '../auth/identity.js';
import type { IssuerCore } from '../core.js';
import { MAX_BODY } from './body.js';
import type { Identify } from './identify.js';
import { empty, type Incoming, type Outgoing } from './messages.js';
import { MethodNotAllowed, type Router } from './router.js';

/** What every route's handler gets. */
export interface RouteContext {
  core: IssuerCore;
  incoming: Incoming;
  /** The path's parameters, percent-decoded. */
  params: Record<string, string>;
  /** Recorded with each key the request mints. */
  caller: CallerInfo;
}

/** A caller's (or an admin's) request: who is calling. */
export interface CallerContext extends RouteContext {
  identity: Identity;
}

/** Storage's request: its body, whose signature was verified. */
export interface StorageContext extends RouteContext {
  body: string;
}

type Handler<C> = (ctx: C) => Promise<Outgoing>;

/** One route of the issuer: its method, path, who may call it, and its handler. */
export type IssuerRoute = { method: string; path: string } & (
  | { access: 'public'; handler: Handler<RouteContext> }
  | { access: 'caller' | 'admin'; handler: Handler<CallerContext> }
  | { access: 'storage'; handler: Handler<StorageContext> }
);

/** CORS of the issuer's API: bearer tokens in `Authorization`, JSON bodies. */
export function issuerCors(origins: readonly string[]): CorsPolicy {
  return new CorsPolicy(origins, {
    methods: 'GET, POST, DELETE',
    allowHeaders: 'authorization, content-type',
    exposeHeaders: 'etag',
  });
}

/**
 * The issuer's request pipeline: CORS, the route table, who may call (authentication, admins,
 * storage's signature), one rendering of every refusal, and one log line per request (never a
 * share-link secret).
 */
export function requestHandler(
  core: IssuerCore,
  router: Router<IssuerRoute>,
  identify: Identify,
): (incoming: Incoming) => Promise<Outgoing> {
  const cors = issuerCors(core.options.corsOrigins ?? []);
  const dispatch = async (incoming: Incoming, matched: { route: string }): Promise<Outgoing> => {
    const path = core.routePath(incoming.url.pathname);
    if (incoming.method === 'OPTIONS') return preflight(router, cors, incoming, path);
    const { route, params } = matchRoute(router, incoming.method, path, core.basePath);
    matched.route = route.path;
    const base: RouteContext = { core, incoming, params, caller: callerInfo(core, incoming) };
    switch (route.access) {
      case 'public':
        return route.handler(base);
      case 'caller':
        return route.handler({ ...base, identity: await identify(incoming) });
      case 'admin': {
        const identity = await identify(incoming);
        if (!core.options.admins?.includes(identity.subject))
          throw new ValetError('forbidden', 'only admins may revoke');
        return route.handler({ ...base, identity });
      }
      case 'storage':
        return route.handler({ ...base, body: await storageBody(core, incoming, path) });
    }
  };
  return async (incoming) => {
    const started = performance.now();
    const matched = { route: 'unmatched' };
    let out: Outgoing;
    let code: string | undefined;
    try {
      out = await dispatch(incoming, matched);
    } catch (error) {
      out = failure(core, error);
      code = error instanceof ValetError ? error.code : 'internal_error';
    }
    if (incoming.method !== 'OPTIONS') withCors(cors, incoming, out);
    core.metrics.answered(
      matched.route,
      incoming.method,
      out.status,
      (performance.now() - started) / 1000,
      code,
    );
    core.log?.info(
      {
        method: incoming.method,
        path: loggedPath(core, incoming.url.pathname),
        status: out.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
    return out;
  };
}

/** A refusal as the issuer answers it (a readable page with `html`), logged when it is the issuer's fault. */
export function failure(core: IssuerCore, error: unknown, html = false): Outgoing {
  const rendered = renderError(asValetError(error, 'the issuer failed to handle the request'), { html });
  const { error: failed } = rendered;
  if (failed.status >= 500)
    core.log?.error({ err: failed.cause ?? failed, code: failed.code }, 'request failed');
  const headers = {
    ...rendered.headers,
    ...(failed instanceof MethodNotAllowed && { allow: failed.allow.join(', ') }),
  };
  return { status: rendered.status, headers, body: rendered.body };
}

/** The route for a request; an unknown path says where this issuer's API is. */
function matchRoute(router: Router<IssuerRoute>, method: string, path: string, basePath: string) {
  try {
    return router.match(method, path);
  } catch (error) {
    if (!isValetError(error, 'not_found')) throw error;
    throw new ValetError('not_found', `no such route on this Valet issuer: its API is under ${basePath}/v1/`);
  }
}

/** A preflight for a configured origin; any other `OPTIONS` learns the path's methods. */
function preflight(
  router: Router<IssuerRoute>,
  cors: CorsPolicy,
  incoming: Incoming,
  path: string,
): Outgoing {
  const headers = cors.preflight({
    origin: incoming.header('origin') ?? undefined,
    requestMethod: incoming.header('access-control-request-method') ?? undefined,
  });
  if (headers !== undefined) return empty(204, headers);
  const methods = router.methods(path);
  if (methods.length === 0) throw new ValetError('not_found', 'no such route');
  return empty(204, { allow: [...methods, 'OPTIONS'].join(', ') });
}

function withCors(cors: CorsPolicy, incoming: Incoming, out: Outgoing): void {
  for (const [name, value] of Object.entries(cors.responseHeaders(incoming.header('origin') ?? undefined))) {
    out.headers[name] = name === 'vary' && out.headers.vary ? `${out.headers.vary}, ${value}` : value;
  }
}

/**
 * Storage's body, once its HMAC signature holds: over the method, the full path storage asked
 * for (`{basePath}{path}`, whatever the framework stripped before the issuer saw it) and the body,
 * within the replay window.
 */
async function storageBody(core: IssuerCore, incoming: Incoming, path: string): Promise<string> {
  const body = incoming.method === 'GET' ? '' : await incoming.text(MAX_BODY);
  try {
    await verifyRequestSignature(
      core.options.storageSecret,
      incoming.header('valet-signature'),
      { method: incoming.method, path: `${core.basePath}${path}`, body },
      { now: core.now() },
    );
  } catch (error) {
    if (error instanceof ValetError) core.storageLink?.failed(`${error.code}: ${error.message}`);
    throw error;
  }
  core.storageLink?.succeeded();
  return body;
}

function callerInfo(core: IssuerCore, incoming: Incoming): CallerInfo {
  let clientAddress = incoming.clientAddress ?? null;
  if (core.options.trustProxy) {
    const forwarded = incoming.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) clientAddress = forwarded.slice(0, 64);
  }
  return { clientAddress, userAgent: incoming.header('user-agent')?.slice(0, 512) ?? null };
}

/** Share-link secrets are bearer credentials: never in a log line. */
function loggedPath(core: IssuerCore, pathname: string): string {
  return core.routePath(pathname).startsWith('/s/') ? `${core.basePath}/s/…` : pathname.slice(0, 512);
}
