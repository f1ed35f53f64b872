import { ValetError } from '../../../token/errors.js';
import { storageEventSchema } from '../../../wire/events.js';
import { eventRecord, recordEvent } from '../../domain/events.js';
import { revocationFeed } from '../../domain/revocations.js';
import { safeJson } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { empty, json } from '../messages.js';

/**
 * What storage asks of the issuer, signed with the shared secret: the revocation list it polls
 * (`ETag`, `304` when unchanged), and the events of committed uploads and deletions.
 */
export const storageFeedRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/revocations',
    access: 'storage',
    handler: async ({ core, incoming }) => {
      const { version, list } = await revocationFeed(core);
      const etag = `"${version}"`;
      if (incoming.header('if-none-match') === etag) return empty(304, { etag });
      return json(200, list, { etag, 'cache-control': 'no-store' });
    },
  },
  {
    method: 'POST',
    path: '/v1/events',
    access: 'storage',
    handler: async ({ core, body }) => {
      const parsed = storageEventSchema.safeParse(safeJson(body));
      if (!parsed.success) throw new ValetError('bad_request', 'invalid storage event');
      const { received, duplicate } = await recordEvent(core, eventRecord(core, parsed.data));
      return json(200, { received, duplicate });
    },
  },
];
