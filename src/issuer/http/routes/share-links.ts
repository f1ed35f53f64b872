import { ValetError } from '../../../token/errors.js';
import { wantsHtml } from '../../../wire/errors.js';
import { openShare } from '../../domain/shares.js';
import { failure, type IssuerRoute } from '../handler.js';
import { empty } from '../messages.js';

/** `GET /s/:secret`: a share link redirects to storage with a short read key. */
export const shareLinkRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/s/:secret',
    access: 'public',
    handler: async ({ core, incoming, params }) => {
      try {
        const location = await openShare(core, params.secret as string);
        return empty(302, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      } catch (error) {
        // A person opening a dead link in a browser gets a readable page, not JSON.
        if (!(error instanceof ValetError) || !wantsHtml(incoming.header('accept'))) throw error;
        return failure(core, error, true);
      }
    },
  },
];
