import { KEY_ID } from '../../../token/claims.js';
import { ValetError } from '../../../token/errors.js';
import { toWire } from '../../../wire/case.js';
import { partRequestBodySchema } from '../../../wire/issuer-api.js';
import type { MultipartState, SignedPart } from '../../../wire/keys.js';
import type { Identity } from '../../auth/identity.js';
import type { IssuerCore } from '../../core.js';
import { verifyFromStore } from '../../domain/completions.js';
import { revokeKey } from '../../domain/revocations.js';
import {
  cancelMultipart,
  completeMultipart,
  heldParts,
  type OwnMultipart,
  ownMultipart,
  signPart,
} from '../../domain/uploads.js';
import { readBody } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { empty, json } from '../messages.js';

/** The caller's multipart upload named in the path. */
function upload(core: IssuerCore, identity: Identity, id: string | undefined): Promise<OwnMultipart> {
  if (id === undefined || !KEY_ID.test(id)) throw new ValetError('not_found', 'no such route');
  return ownMultipart(core, identity, id);
}

/**
 * `/v1/uploads/:id…`, a multipart upload on a store that has them, for its owner: `GET` lists the
 * parts the store holds, `DELETE` cancels it, `POST …/parts {part}` signs one part's request (its
 * exact length, the rule's TTL), `POST …/complete` checks the parts and completes it.
 */
export const uploadRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/uploads/:id',
    access: 'caller',
    handler: async ({ core, identity, params }) => {
      const own = await upload(core, identity, params.id);
      const state: MultipartState = {
        id: own.id,
        object: own.created.object,
        size: own.size,
        partSize: own.state.part_size,
        parts: await heldParts(core, own),
      };
      return json(200, toWire(state));
    },
  },
  {
    method: 'DELETE',
    path: '/v1/uploads/:id',
    access: 'caller',
    handler: async ({ core, identity, params }) => {
      await cancelMultipart(core, await upload(core, identity, params.id), (id) => revokeKey(core, id));
      return empty(204);
    },
  },
  {
    method: 'POST',
    path: '/v1/uploads/:id/parts',
    access: 'caller',
    handler: async ({ core, incoming, identity, params, caller }) => {
      const own = await upload(core, identity, params.id);
      const { part } = await readBody(incoming, partRequestBodySchema, 'part request');
      const signed = await signPart(core, own, part, caller);
      const body: SignedPart = {
        part: signed.part,
        size: signed.size,
        url: signed.signed.url,
        method: signed.signed.method,
        headers: signed.signed.headers,
        expiresAt: signed.expiresAt,
        renewals: signed.renewals,
      };
      return json(201, toWire(body));
    },
  },
  {
    method: 'POST',
    path: '/v1/uploads/:id/complete',
    access: 'caller',
    handler: async ({ core, identity, params }) => {
      const own = await upload(core, identity, params.id);
      await completeMultipart(core, own);
      return json(200, await verifyFromStore(core, own.created));
    },
  },
];
