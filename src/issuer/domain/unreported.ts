import { isValetError } from '../../token/errors.js';
import type { IssuerCore } from '../core.js';
import type { GrantRecord } from '../records/records.js';
import { verifyFromStore } from './completions.js';
import { issuerEvent, recordEvent } from './events.js';

/**
 * Every upload key, looked at again once it can no longer be used. On a store that sends no
 * events (S3, Azure) the issuer learns of an upload when the client reports it, and a key the
 * store cannot make single-use can be used again after that: an overwrite with the same SAS or
 * presigned request, or (Azure) a whole blob written with a part's SAS stripped of its block id.
 * So, once a put key has expired (and the minute a client has to report), the issuer compares the
 * store's version of its object with the one it recorded. A version nobody reported is verified
 * against the key that was valid when it was written, as if its client had reported it: recorded
 * and counted, or removed if it breaks that key or the quota. A whole object written while only
 * the keys of a resumable upload were valid is never an upload (only the issuer's completion makes
 * one from parts): it is removed.
 */

/** How long after a key's expiry its upload may still be reported before the issuer looks (ms). */
export const REPORT_GRACE = 60_000;
/** Clock difference allowed between the issuer and the store when dating a write (ms). */
const SKEW = 60_000;
const PAGE = 200;
/** The most keys for one object looked at to date a write. */
const CANDIDATES = 50;

/** Where the last check stopped: every key that expired up to this one was looked at. */
export interface UnreportedCursor {
  expiresAt: number;
  id: string;
}

/** Looks at the store for the objects of put keys that lapsed since `cursor`; returns how many it settled. */
export async function checkUnreported(core: IssuerCore, cursor: UnreportedCursor): Promise<number> {
  if (core.driver.completion !== 'client') return 0;
  const now = core.now();
  let settled = 0;
  for (;;) {
    const page = await core.records.lapsedUploads(cursor, now - REPORT_GRACE, PAGE);
    const objects = new Map<string, string>();
    for (const grant of page) objects.set(grant.object, grant.subject);
    for (const [object, owner] of objects) {
      if (await settle(core, object, owner, now)) settled++;
    }
    const last = page[page.length - 1];
    if (last) {
      cursor.expiresAt = last.expiresAt;
      cursor.id = last.id;
    }
    if (page.length < PAGE) break;
  }
  if (settled > 0) core.log?.info({ settled }, 'unreported versions settled from the store');
  return settled;
}

/**
 * Compares the store's version of `object` with the recorded one and settles a difference: by
 * the key that was valid when it was written (the latest such), once that key has lapsed too.
 * True if it recorded or removed something.
 */
async function settle(core: IssuerCore, object: string, owner: string, now: number): Promise<boolean> {
  const context = core.driverContext(owner, '(unreported)');
  const head = await core.driver.head(object, context);
  if (!head || head.modifiedAt === undefined) return false;
  const recorded = await core.records.getObject(object);
  if (recorded?.state === 'complete' && recorded.etag === head.etag) return false;
  const written = head.modifiedAt;
  const valid = await core.records.uploadKeysFor(object, written - SKEW, written + SKEW, CANDIDATES);
  // Written outside every key's validity: not an upload of a key of this issuer.
  if (valid.length === 0) return false;
  // A key valid then may still be reported, or its upload still running: it is looked at when
  // it lapses (it comes up in a later page).
  if (valid.some((g) => g.expiresAt > now - REPORT_GRACE)) return false;
  if (recorded?.state === 'pending' && (recorded.pendingUntil ?? 0) > now) return false;
  // Only a key for one request can write a whole object: a resumable upload's creating key is an
  // issuer URL, and its parts' keys write parts; the issuer's completion makes the object.
  const whole = valid.find(
    (g) => g.constraints.upload === undefined && g.constraints.multipart === undefined,
  );
  if (!whole) {
    await removeStray(core, object, head.etag, valid[0] as GrantRecord);
    return true;
  }
  try {
    await verifyFromStore(core, whole);
    core.log?.info({ object, grant: whole.id }, 'unreported version recorded');
  } catch (error) {
    if (!isValetError(error, 'upload_rejected') && !isValetError(error, 'quota_exceeded')) throw error;
    core.log?.warn(
      { object, grant: whole.id, code: error.code },
      'unreported version removed from the store',
    );
  }
  return true;
}

/**
 * Removes an object written whole while only a part's key of a resumable upload was valid (an
 * Azure block SAS stripped of `comp` and `blockid` is a blob SAS), and the record of any version
 * it replaced (that version is gone from the store).
 */
async function removeStray(core: IssuerCore, object: string, etag: string, part: GrantRecord): Promise<void> {
  const context = core.driverContext(part.subject, '(unreported)');
  core.log?.warn(
    { object, grant: part.id, code: 'upload_rejected' },
    "an object written whole with a part's key of a resumable upload: removed",
  );
  await core.driver.delete(object, context);
  await core.records.dropObject(object, etag);
  if (await core.records.getObject(object)) {
    const deleted = { id: `stray:${part.id}:${etag}`, type: 'object.deleted' as const, object };
    await recordEvent(core, issuerEvent({ ...deleted, keyId: part.id, subject: part.subject }, context.now));
  }
}
