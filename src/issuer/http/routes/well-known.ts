import { ValetError } from '../../../token/errors.js';
import { notOk, ok, type ReadinessCheck, readiness } from '../../../wire/readiness.js';
import type { IssuerCore } from '../../core.js';
import { validationHealth } from '../../domain/validation-health.js';
import type { IssuerRoute } from '../handler.js';
import { json } from '../messages.js';

/**
 * `GET /.well-known/jwks.json`: the public keys storage trusts. `GET /healthz`: the process is
 * alive. `GET /readyz`: the record store answers, the store answers and is ready, and the
 * identity provider answers (OIDC); `503` naming what fails (a load balancer then sends callers
 * to another replica). The shape: wire/readiness.ts.
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
    handler: async () => json(200, { status: 'ok' }, { 'cache-control': 'no-store' }),
  },
  {
    method: 'GET',
    path: '/metrics',
    access: 'public',
    handler: async ({ core }) => {
      if (core.options.metrics !== true)
        throw new ValetError('not_found', 'metrics are not served here (option metrics)');
      const text = await core.metrics.text();
      return {
        status: 200,
        headers: { 'content-type': core.metrics.contentType, 'cache-control': 'no-store' },
        body: text,
      };
    },
  },
  {
    method: 'GET',
    path: '/readyz',
    access: 'public',
    handler: async ({ core }) => {
      const { httpStatus, body } = await readiness(issuerChecks(core));
      if (httpStatus !== 200) core.log?.warn({ failing: body.failing }, 'readiness: not ready');
      return json(httpStatus, body, { 'cache-control': 'no-store' });
    },
  },
];

/** The checks of the issuer's `/readyz`. */
function issuerChecks(core: IssuerCore): ReadinessCheck[] {
  const { driver } = core;
  return [
    {
      name: 'records',
      check: async () => {
        try {
          await core.records.getGrant('readyz');
          return ok();
        } catch {
          return notOk('failing', 'the record store does not answer: keys cannot be minted or recorded');
        }
      },
    },
    { name: 'storage', check: () => (driver.ready ? driver.ready() : ok()) },
    ...(core.identityReady ? [{ name: 'identity', check: core.identityReady }] : []),
    ...(core.validators.size > 0 ? [{ name: 'validation', check: () => validationHealth(core) }] : []),
  ];
}
