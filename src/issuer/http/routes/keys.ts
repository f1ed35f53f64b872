import { ValetError } from '../../../token/errors.js';
import { toWire } from '../../../wire/case.js';
import { completeRequestBodySchema, keyRequestBodySchema } from '../../../wire/issuer-api.js';
import type { UploadCheck } from '../../../wire/keys.js';
import type { KeyRequest } from '../../api.js';
import { completeKey } from '../../domain/completions.js';
import { checkUpload, mintKey } from '../../domain/keys.js';
import { MAX_VERDICT_WAIT, uploadVerdict } from '../../domain/verdicts.js';
import { readBody, readOptionalBody } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { type Incoming, json } from '../messages.js';

/**
 * `POST /v1/keys`: mint a key. `POST /v1/keys/check`: would an upload be allowed (no key, nothing
 * recorded). `POST /v1/keys/:id/complete`: the client's upload or deletion is done.
 * `GET /v1/keys/:id/validation?wait=S`: where the upload's validation stands (waiting up to S
 * seconds, at most 25, for its verdict).
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
  {
    method: 'GET',
    path: '/v1/keys/:id/validation',
    access: 'caller',
    handler: async ({ core, incoming, identity, params }) => {
      const wait = incoming.url.searchParams.get('wait') ?? '0';
      if (!/^\d{1,3}$/.test(wait) || Number(wait) > MAX_VERDICT_WAIT) {
        throw new ValetError(
          'bad_request',
          `wait must be a whole number of seconds from 0 to ${MAX_VERDICT_WAIT}`,
        );
      }
      return json(200, toWire(await uploadVerdict(core, identity, params.id as string, Number(wait))));
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
