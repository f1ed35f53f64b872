import { toWire } from '../../../wire/case.js';
import { completeRequestBodySchema, keyRequestBodySchema } from '../../../wire/issuer-api.js';
import type { UploadCheck } from '../../../wire/keys.js';
import type { KeyRequest } from '../../api.js';
import { completeKey } from '../../domain/completions.js';
import { checkUpload, mintKey } from '../../domain/keys.js';
import { readBody, readOptionalBody } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { type Incoming, json } from '../messages.js';

/**
 * `POST /v1/keys`: mint a key. `POST /v1/keys/check`: would an upload be allowed (no key, nothing
 * recorded). `POST /v1/keys/:id/complete`: the client's upload or deletion is done.
 */
export const keyRoutes: IssuerRoute[] = [
  {
    method: 'POST',
    path: '/v1/keys',
    access: 'caller',
    handler: async ({ core, incoming, identity, caller }) => {
      const request = await readKeyRequest(incoming, 'key request');
      return json(201, toWire(await mintKey(core, identity, request, caller, incoming)));
    },
  },
  {
    method: 'POST',
    path: '/v1/keys/check',
    access: 'caller',
    handler: async ({ core, incoming, identity }) => {
      const request = await readKeyRequest(incoming, 'upload check');
      const checked = await checkUpload(core, identity, request, incoming);
      const body: UploadCheck = { object: checked.object, rule: checked.rule };
      return json(200, toWire(body));
    },
  },
  {
    method: 'POST',
    path: '/v1/keys/:id/complete',
    access: 'caller',
    handler: async ({ core, incoming, identity, params }) => {
      const { receipt } = await readOptionalBody(incoming, completeRequestBodySchema, 'completion');
      return json(200, await completeKey(core, identity, params.id as string, receipt));
    },
  },
];

/** A key request from the wire (snake_case) in the issuer's own API (camelCase). */
async function readKeyRequest(incoming: Incoming, what: string): Promise<KeyRequest> {
  const { content_type, ...rest } = await readBody(incoming, keyRequestBodySchema, what, [
    'name',
    'object',
    'key',
  ]);
  return { ...rest, ...(content_type !== undefined && { contentType: content_type }) };
}
