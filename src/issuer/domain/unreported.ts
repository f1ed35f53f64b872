import { isValetError } from '../../token/errors.js';
import type { IssuerCore } from '../core.js';
import type { GrantRecord } from '../records.js';
import { verifyFromStore } from './completions.js';

/**
 * Uploads nobody reported. On a store that sends no events (S3, Azure) the issuer learns of an
 * upload when the client reports it; a client that never does would leave an object nobody
 * checked (on Azure: of any size and type) and nobody counted. So, once an upload key has
 * expired unreported, the issuer looks at the store itself: an object written while that key was
 * valid, and not the version already recorded, is verified as if the client had reported it
 * (recorded and counted, or deleted if it breaks its key or the quota).
 */

/** How long after a key's expiry its upload may still be reported before the issuer looks (ms). */
export const REPORT_GRACE = 60_000;
/** Clock difference allowed between the issuer and the store when dating a write (ms). */
const SKEW = 60_000;
const PAGE = 200;

/**
 * Where the last check stopped: keys that expired up to this one were looked at, but for those
 * `deferred` because a later key for their object was still valid (looked at again next time).
 */
export interface UnreportedCursor {
  expiresAt: number;
  id: string;
  deferred: GrantRecord[];
}

/** Looks at the store for upload keys that expired unreported since `cursor`; returns how many objects it settled. */
export async function checkUnreported(core: IssuerCore, cursor: UnreportedCursor): Promise<number> {
  if (core.driver.completion !== 'client') return 0;
  const now = core.now();
  let settled = 0;
  let pending = cursor.deferred;
  cursor.deferred = [];
  for (;;) {
    const page = await core.records.lapsedUploads(cursor, now - REPORT_GRACE, PAGE);
    const byObject = new Map<string, GrantRecord[]>();
    for (const grant of [...pending, ...page]) {
      byObject.set(grant.object, [...(byObject.get(grant.object) ?? []), grant]);
    }
    pending = [];
    for (const [object, grants] of byObject) {
      const outcome = await settle(core, object, grants, now);
      if (outcome === 'settled') settled++;
      else if (outcome === 'deferred') cursor.deferred.push(...grants);
    }
    const last = page[page.length - 1];
    if (last) {
      cursor.expiresAt = last.expiresAt;
      cursor.id = last.id;
    }
    if (page.length < PAGE) break;
  }
  if (settled > 0) core.log?.info({ settled }, 'unreported uploads settled from the store');
  return settled;
}

/**
 * Verifies the object the lapsed `grants` may have written: the one valid when it was written
 * (the latest such) speaks for it. `deferred` while a later key for it may still be reported.
 */
async function settle(
  core: IssuerCore,
  object: string,
  grants: GrantRecord[],
  now: number,
): Promise<'settled' | 'deferred' | 'nothing'> {
  const owner = (grants[0] as GrantRecord).subject;
  const head = await core.driver.head(object, core.driverContext(owner, '(unreported)'));
  if (!head || head.modifiedAt === undefined) return 'nothing';
  const recorded = await core.records.getObject(object);
  if (recorded?.state === 'complete' && recorded.etag === head.etag) return 'nothing';
  if (recorded?.state === 'pending' && (recorded.pendingUntil ?? 0) > now) return 'deferred';
  const written = head.modifiedAt;
  const grant = grants
    .filter((g) => written >= g.issuedAt - SKEW && written <= g.expiresAt + SKEW)
    .sort((a, b) => b.issuedAt - a.issuedAt)[0];
  // Written outside every lapsed key's validity: not one of their uploads.
  if (!grant) return 'nothing';
  try {
    await verifyFromStore(core, grant);
    core.log?.info({ object, grant: grant.id }, 'unreported upload recorded');
  } catch (error) {
    if (!isValetError(error, 'upload_rejected') && !isValetError(error, 'quota_exceeded')) throw error;
    core.log?.warn({ object, grant: grant.id, code: error.code }, 'unreported upload removed from the store');
  }
  return 'settled';
}
