import { ValetError } from '../../../token/errors.js';
import { toWire } from '../../../wire/case.js';
import { requestedObject, shareRequestBodySchema } from '../../../wire/issuer-api.js';
import type { ShareList } from '../../../wire/shares.js';
import { share, unshare } from '../../domain/shares.js';
import { readBody } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { empty, json } from '../messages.js';

/** `/v1/shares`: the caller's share links (list, create, revoke). */
export const shareRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/shares',
    access: 'caller',
    handler: async ({ core, identity }) => {
      const shares = await core.records.listShares(identity.subject, core.now());
      const list: ShareList = {
        shares: shares.map((s) => ({
          id: s.id,
          object: s.object,
          createdAt: new Date(s.createdAt).toISOString(),
          expiresAt: new Date(s.expiresAt).toISOString(),
        })),
      };
      return json(200, toWire(list));
    },
  },
  {
    method: 'POST',
    path: '/v1/shares',
    access: 'caller',
    handler: async ({ core, incoming, identity }) => {
      const request = await readBody(incoming, shareRequestBodySchema, 'share request', ['object', 'key']);
      const object = requestedObject(request);
      if (object === undefined) throw new ValetError('bad_request', 'a share request needs the object');
      const link = await share(core, identity, object, request.ttl, incoming.url.origin);
      return json(201, toWire(link));
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
