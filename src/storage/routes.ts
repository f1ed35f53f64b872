import { ValetError } from '../token/errors.js';
import type { CorsPolicy } from '../wire/cors.js';
import type { ReadinessCheck } from '../wire/readiness.js';
import { OBJECTS_PATH, UPLOADS_PATH } from '../wire/storage-api.js';
import { answerPreflight } from './http/cors.js';
import { type Exchange, methodNotAllowed, splitTarget } from './http/exchange.js';
import { OBJECT_METHODS, type ObjectRoutes } from './http/objects.js';
import type { TusBridge } from './http/tus.js';
import { answerHealth, isHealthPath } from './readiness.js';

/** What storage's routes are served by. */
export interface StorageRoutes {
  checks: ReadinessCheck[];
  /** `/metrics` on the main port (`metrics: true`), or not at all. */
  metrics: (() => Promise<{ contentType: string; text: string }>) | undefined;
  tus: TusBridge;
  objects: ObjectRoutes;
  cors: CorsPolicy;
}

/** The routes: `/healthz`, `/readyz`, `/metrics`, `/uploads[/<id>]` (tus), `/o/<object key>`. */
export async function routeRequest(
  ex: Exchange,
  expectContinue: boolean,
  routes: StorageRoutes,
): Promise<void> {
  const { req, res } = ex;
  if (!(req.url ?? '').startsWith('/'))
    throw new ValetError('bad_request', 'the request target must be a path');
  const { path, query } = splitTarget(req);
  const method = req.method ?? '';
  if (isHealthPath(path)) {
    await answerHealth(ex, path, routes.checks);
    return;
  }
  if (path === '/metrics' && routes.metrics) {
    if (method !== 'GET') throw methodNotAllowed(res, 'GET');
    const { contentType, text } = await routes.metrics();
    res.setHeader('Content-Type', contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(text);
    return;
  }
  if (path === UPLOADS_PATH || path.startsWith(`${UPLOADS_PATH}/`)) {
    await routes.tus.serve(ex, path.slice(UPLOADS_PATH.length + 1), query, expectContinue);
    return;
  }
  if (!path.startsWith(OBJECTS_PATH)) {
    // A client pointed at storage as if it were the issuer hears which is which.
    throw new ValetError(
      'not_found',
      path.startsWith('/v1/')
        ? 'this is Valet storage, not the issuer: the issuer (/v1/…) is served by your app; point the client at it'
        : 'no such route on Valet storage (objects are under /o/, resumable uploads under /uploads)',
    );
  }
  if (method === 'OPTIONS') {
    if (!answerPreflight(routes.cors, req, res)) {
      res.setHeader('Allow', OBJECT_METHODS);
      res.writeHead(204).end();
    }
    return;
  }
  await routes.objects.serve(ex, path, query, expectContinue);
}
