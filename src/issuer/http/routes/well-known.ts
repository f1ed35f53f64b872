import { json } from '../exchange.js';
import type { IssuerRoute } from '../handler.js';

/** `GET /.well-known/jwks.json`: the public keys storage trusts. `GET /healthz`. */
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
    handler: async () => json(200, { status: 'ok' }),
  },
];
