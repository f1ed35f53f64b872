import { json } from '../exchange.js';
import type { IssuerRoute } from '../handler.js';

/**
 * `GET /.well-known/jwks.json`: the public keys storage trusts. `GET /healthz`: 200 when the
 * record store answers, else 503 (a load balancer then sends callers to another replica).
 */
export const wellKnownRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/.well-known/jwks.json',
    access: 'public',
    handler: async ({ core }) => json(200, core.signing.jwks(), { 'cache-control': 'public, max-age=60' }),
  },
  {
    method: 'GET',
    path: '/healthz',
    access: 'public',
    handler: async ({ core }) => {
      try {
        await core.records.getGrant('healthz');
        return json(200, { status: 'ok' });
      } catch (error) {
        core.log?.warn({ err: error }, 'health check: the record store does not answer');
        return json(503, { status: 'unavailable', reason: 'the record store does not answer' });
      }
    },
  },
];
