import { type RevokedBody, revocationRequestBodySchema } from '../../../wire/issuer-api.js';
import { revokeKey, revokeSigningKey, revokeSubject } from '../../domain/revocations.js';
import { readBody } from '../body.js';
import type { IssuerRoute } from '../handler.js';
import { json } from '../messages.js';

/** `POST /v1/revocations` (admins): revoke a key, a subject's keys, or a signing key. */
export const revocationRoutes: IssuerRoute[] = [
  {
    method: 'POST',
    path: '/v1/revocations',
    access: 'admin',
    handler: async ({ core, incoming }) => {
      const { kind, value, before } = await readBody(incoming, revocationRequestBodySchema, 'revocation');
      if (kind === 'key') await revokeKey(core, value);
      else if (kind === 'subject') await revokeSubject(core, value, before);
      else await revokeSigningKey(core, value);
      const body: RevokedBody = { revoked: { kind, value } };
      return json(201, body);
    },
  },
];
