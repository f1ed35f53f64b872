import { type ShareBody, type ShareListBody, shareRequestBodySchema } from '../../../wire/issuer-api.js';
import { share, unshare } from '../../domain/shares.js';
import { readBody } from '../body.js';
import { empty, json } from '../exchange.js';
import type { IssuerRoute } from '../handler.js';

/** `/v1/shares`: the caller's share links (list, create, revoke). */
export const shareRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/shares',
    access: 'caller',
    handler: async ({ core, identity }) => {
      const shares = await core.records.listShares(identity.subject, core.now());
      const body: ShareListBody = {
        shares: shares.map((s) => ({
          id: s.id,
          object: s.object,
          created_at: new Date(s.createdAt).toISOString(),
          expires_at: new Date(s.expiresAt).toISOString(),
        })),
      };
      return json(200, body);
    },
  },
  {
    method: 'POST',
    path: '/v1/shares',
    access: 'caller',
    handler: async ({ core, incoming, identity }) => {
      const { key, ttl } = await readBody(incoming, shareRequestBodySchema, 'share request', ['key']);
      const link = await share(core, identity, key, ttl, incoming.url.origin);
      const body: ShareBody = { id: link.id, url: link.url, object: link.object, expires_at: link.expiresAt };
      return json(201, body);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/shares/:id',
    access: 'caller',
    handler: async ({ core, identity, params }) => {
      await unshare(core, identity, params.id as string);
      return empty(204);
    },
  },
];
