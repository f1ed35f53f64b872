import type { IssuerRoute } from '../handler.js';
import { Router } from '../router.js';
import { keyRoutes } from './keys.js';
import { meRoutes } from './me.js';
import { objectRoutes } from './objects.js';
import { revocationRoutes } from './revocations.js';
import { shareLinkRoutes } from './share-links.js';
import { shareRoutes } from './shares.js';
import { storageFeedRoutes } from './storage-feed.js';
import { uploadRoutes } from './uploads.js';
import { wellKnownRoutes } from './well-known.js';

/**
 * The issuer's route table. Add an endpoint: a route in the file of its resource (or a new file
 * here), calling a domain function; 404 and 405 follow from the table.
 */
export function issuerRoutes(): Router<IssuerRoute> {
  return new Router<IssuerRoute>().add(
    ...keyRoutes,
    ...uploadRoutes,
    ...objectRoutes,
    ...meRoutes,
    ...shareRoutes,
    ...shareLinkRoutes,
    ...storageFeedRoutes,
    ...revocationRoutes,
    ...wellKnownRoutes,
  );
}
