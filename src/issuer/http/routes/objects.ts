import { ValetError } from '../../../token/errors.js';
import { unstorableReason } from '../../../token/text.js';
import { toWire } from '../../../wire/case.js';
import type { ObjectPage } from '../../../wire/objects.js';
import type { IssuerRoute } from '../handler.js';
import type { Incoming } from '../messages.js';
import { json } from '../messages.js';

/** Objects per page of `GET /v1/objects`, at most and by default. */
export const OBJECT_PAGE_LIMIT = 1000;

/**
 * `GET /v1/objects?prefix=P&after=KEY&limit=N`: the caller's complete objects whose key starts
 * with P, after KEY, in bytewise key order, a page at a time; `next` is the `after` of the next
 * page, `null` on the last. An upload still being validated is listed (to its owner: the listing
 * is the caller's own) with `validation: "pending"`.
 */
export const objectRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/objects',
    access: 'caller',
    handler: async ({ core, identity, incoming }) => {
      const page = objectPage(incoming);
      // One more than asked tells whether there is a next page.
      const found = await core.records.listObjects(identity.subject, { ...page, limit: page.limit + 1 });
      const objects = found.slice(0, page.limit);
      const listing: ObjectPage = {
        objects: objects.map((o) => ({
          object: o.key,
          key: o.key,
          size: o.size ?? 0,
          contentType: o.contentType ?? '',
          sha256: o.sha256 || null,
          etag: o.etag ?? '',
          createdAt: new Date(o.createdAt).toISOString(),
          updatedAt: new Date(o.updatedAt).toISOString(),
          ...(o.description?.filename !== undefined && { filename: o.description.filename }),
          ...(o.description?.metadata !== undefined && { metadata: o.description.metadata }),
          ...(o.validation && { validation: o.validation }),
        })),
        next: found.length > page.limit ? (objects.at(-1)?.key ?? null) : null,
      };
      return json(200, toWire(listing));
    },
  },
];

function objectPage(incoming: Incoming): { prefix?: string; after?: string; limit: number } {
  const query = incoming.url.searchParams;
  const text = (name: string) => {
    const value = query.get(name);
    if (value !== null && value.length > 1024) throw new ValetError('bad_request', `${name} is too long`);
    const reason = value === null ? undefined : unstorableReason(value);
    if (reason !== undefined) throw new ValetError('bad_request', `${name} holds ${reason}`);
    return value ?? undefined;
  };
  const limitText = query.get('limit');
  const limit = limitText === null ? OBJECT_PAGE_LIMIT : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '1') || limit < 1 || limit > OBJECT_PAGE_LIMIT)
    throw new ValetError('bad_request', `limit must be a whole number from 1 to ${OBJECT_PAGE_LIMIT}`);
  const prefix = text('prefix');
  const after = text('after');
  return { limit, ...(prefix !== undefined && { prefix }), ...(after !== undefined && { after }) };
}
