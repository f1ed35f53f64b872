import { ValetError } from '../../token/errors.js';
import { verifyRequestSignature } from '../../token/signature.js';
import { type Receipt, storageEventSchema } from '../../wire/events.js';
import { type DeletedObjectBody, type StoredObjectBody, storedObjectBody } from '../../wire/objects.js';
import type { IssuerCore } from '../core.js';
import type { GrantRecord } from '../records/records.js';
import { eventRecord, type Recorded, recordEvent } from './events.js';
import { validationOfUpload } from './pending.js';
import { overQuota } from './quota-words.js';

/** How long a confirmation without a usable receipt waits for storage's own event, ms. */
const EVENT_WAIT_MS = 5_000;

/**
 * Confirms an upload to a store that sends events: with the receipt storage answered with (its
 * signed event, checked like the webhook, for this very key), the upload is recorded now; without
 * one (or with an expired one) the issuer waits a moment for the event itself. Either way the
 * answer is the upload as recorded: listed, shareable, counted.
 */
export async function confirmFromEvent(
  core: IssuerCore,
  grant: GrantRecord,
  receipt: Receipt | undefined,
): Promise<StoredObjectBody> {
  const recorded = await recordReceipt(core, grant, receipt, 'object.created');
  // Removed over the quota (now, or by the same event's completion before): say why in numbers.
  if (recorded?.over) throw overQuota(recorded.over);
  if (!(await completed(core, grant.id))) {
    throw new ValetError('unavailable', 'storage has not reported this upload yet; ask again');
  }
  const validation = await validationOfUpload(core.records.validations, grant.id);
  const object = await core.records.getObject(grant.object);
  if (object?.state !== 'complete') throw overQuota();
  return storedObjectBody({
    object: object.key,
    size: object.size ?? 0,
    contentType: object.contentType ?? '',
    sha256: object.sha256,
    etag: object.etag ?? '',
    ...validation,
  });
}

/**
 * Confirms a deletion from a store that sends events, as {@link confirmFromEvent} an upload: when
 * this resolves, the object is no longer listed (read-your-writes for deletes too).
 */
export async function confirmDeletionFromEvent(
  core: IssuerCore,
  grant: GrantRecord,
  receipt: Receipt | undefined,
): Promise<DeletedObjectBody> {
  await recordReceipt(core, grant, receipt, 'object.deleted');
  if (!(await completed(core, grant.id))) {
    throw new ValetError('unavailable', 'storage has not reported this deletion yet; ask again');
  }
  return { object: grant.object, deleted: true };
}

/**
 * Records the event a receipt carries, if it holds and is this key's `type` of event: how it was
 * recorded (`kept` false: an upload over the quota, removed), or undefined if nothing was.
 */
async function recordReceipt(
  core: IssuerCore,
  grant: GrantRecord,
  receipt: Receipt | undefined,
  type: 'object.created' | 'object.deleted',
): Promise<Recorded | undefined> {
  if (!receipt) return undefined;
  const event = await verifiedReceipt(core, receipt);
  if (!event) return undefined;
  if (event.key_id !== grant.id || event.type !== type) {
    // A key already completed: a stray receipt changes nothing, and is no one's business.
    if (grant.completedAt !== null) return undefined;
    throw new ValetError(
      'bad_request',
      `the receipt is for another ${type === 'object.created' ? 'upload' : 'deletion'}`,
    );
  }
  // Recorded even when storage's webhook came first: recording is idempotent, and it waits for a
  // completion of the same event still under way (one about to remove an upload over the quota
  // must not be answered as kept).
  return recordEvent(core, eventRecord(core, event));
}

/** The receipt's event if its signature holds (over the events path, in the replay window), else undefined. */
async function verifiedReceipt(core: IssuerCore, receipt: Receipt) {
  try {
    await verifyRequestSignature(
      core.options.storageSecret,
      receipt.signature,
      { method: 'POST', path: `${core.basePath}/v1/events`, body: receipt.event },
      { now: core.now() },
    );
  } catch (error) {
    // A forged receipt proves nothing, and an old one is no worse: the event itself decides.
    core.log?.info({ code: (error as ValetError).code }, 'a receipt was not accepted');
    return undefined;
  }
  const parsed = storageEventSchema.safeParse(safeParse(receipt.event));
  if (!parsed.success) throw new ValetError('bad_request', 'the receipt holds no storage event');
  return parsed.data;
}

/** True once the key's upload or deletion is recorded; waits for storage's event at most {@link EVENT_WAIT_MS}. */
async function completed(core: IssuerCore, grantId: string): Promise<boolean> {
  const deadline = Date.now() + EVENT_WAIT_MS;
  for (;;) {
    if ((await core.records.getGrant(grantId))?.completedAt !== null) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
