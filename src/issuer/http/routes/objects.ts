import type { ObjectListBody } from '../../../wire/issuer-api.js';
import { json } from '../exchange.js';
import type { IssuerRoute } from '../handler.js';

/** `GET /v1/objects`: the caller's complete objects. */
export const objectRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/objects',
    access: 'caller',
    handler: async ({ core, identity }) => {
      const objects = await core.records.listObjects(identity.subject);
      const body: ObjectListBody = {
        objects: objects.map((o) => ({
          key: o.key,
          size: o.size ?? 0,
          content_type: o.contentType ?? '',
          sha256: o.sha256 || null,
          etag: o.etag ?? '',
          created_at: new Date(o.createdAt).toISOString(),
          updated_at: new Date(o.updatedAt).toISOString(),
        })),
      };
      return json(200, body);
    },
  },
];
