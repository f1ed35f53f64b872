import type { HeadResult } from '../../drivers/types.js';
import { ValetError } from '../../token/errors.js';
import { limitsOfClaims, sizeRefusal, typeRefusal } from '../../token/limits.js';
import type { Receipt } from '../../wire/events.js';
import { type DeletedObjectBody, type StoredObjectBody, storedObjectBody } from '../../wire/objects.js';
import type { Identity } from '../auth/identity.js';
import type { IssuerCore } from '../core.js';
import type { EventRecord, GrantConstraints, GrantRecord } from '../records/records.js';
import { issuerEvent, recordEvent } from './events.js';
import { contentRejected, validationOfUpload } from './pending.js';
import { overQuota } from './quota-words.js';
import { confirmDeletionFromEvent, confirmFromEvent } from './receipts.js';

/**
 * The client reports its upload or deletion done (`POST /v1/keys/:id/complete`); when this
 * resolves, the upload is recorded (listed, shareable, counted in the quota) or refused. A store
 * that sends events (Valet storage): from the receipt storage answered with, or the event itself.
 * Any other store: the issuer reads the object's head from the store (see {@link verifyFromStore}).
 */
export async function completeKey(
  core: IssuerCore,
  identity: Identity,
  grantId: string,
  receipt?: Receipt,
): Promise<StoredObjectBody | DeletedObjectBody> {
  const grant = await core.records.getGrant(grantId);
  if (!grant || (grant.op !== 'put' && grant.op !== 'delete') || grant.subject !== identity.subject) {
    throw new ValetError('not_found', 'no such upload or deletion');
  }
  // Completed again after its validators rejected it: the verdict, not "no such object".
  const checked = grant.op === 'put' ? await core.records.validations?.get(grant.id) : undefined;
  if (checked?.status === 'rejected' || checked?.status === 'rejecting')
    throw contentRejected(checked.reason);
  if (core.driver.completion === 'client') return verifyFromStore(core, grant);
  if (grant.op === 'delete') return confirmDeletionFromEvent(core, grant, receipt);
  return confirmFromEvent(core, grant, receipt);
}

/**
 * A store that sends no events: the issuer reads the object's head from the store. It records
 * the upload only if it keeps its key's constraints (an object that breaks them is deleted, and
 * the refusal is the answer), or the deletion only if the object is gone.
 */
export async function verifyFromStore(
  core: IssuerCore,
  grant: GrantRecord,
): Promise<StoredObjectBody | DeletedObjectBody> {
  const context = core.driverContext(grant.subject, '(completion)');
  const head = await core.driver.head(grant.object, context);
  // One event per version a key is verified for: a key used again after its completion (a store
  // that cannot make it single-use) has its new version verified, not taken for the old one.
  const verified = (fields: Partial<EventRecord>): EventRecord =>
    issuerEvent(
      {
        id: `verified:${grant.id}${head ? `:${head.etag}` : ''}`,
        type: 'object.created',
        object: grant.object,
        keyId: grant.id,
        subject: grant.subject,
        ...fields,
      },
      context.now,
    );
  if (grant.op === 'delete') {
    if (head) throw new ValetError('precondition_failed', 'the object is still in the store');
    await recordEvent(core, verified({ type: 'object.deleted' }));
    return { object: grant.object, deleted: true };
  }
  if (!head) throw new ValetError('not_found', 'the object is not in the store');
  const problem = head.copied
    ? 'it was copied from another object, not uploaded with this key'
    : constraintBroken(grant.constraints, head);
  if (problem) {
    core.log?.warn({ object: grant.object, grant: grant.id, problem }, 'upload breaks its key: removed');
    await core.driver.delete(grant.object, context);
    await core.records.dropObject(grant.object, head.etag);
    // A version recorded before is gone from the store too (this upload replaced it).
    if ((await core.records.getObject(grant.object))?.state === 'complete') {
      await recordEvent(core, verified({ id: `removed:${grant.id}:${head.etag}`, type: 'object.deleted' }));
    }
    throw new ValetError('upload_rejected', `the upload was removed: ${problem}`);
  }
  const record = verified({
    size: head.size,
    contentType: head.contentType,
    sha256: head.sha256 ?? '',
    etag: head.etag,
  });
  const recorded = await recordEvent(core, record);
  if (!recorded.kept) throw overQuota(recorded.over);
  const validation = await validationOfUpload(core.records.validations, grant.id);
  return storedObjectBody({
    object: record.object,
    size: record.size,
    contentType: record.contentType,
    sha256: record.sha256,
    etag: record.etag,
    ...validation,
  });
}

/**
 * Why an object's head breaks its key's constraints, if it does: in the key's terms, never with
 * what the store holds (its size or type may be another object's, if it got there by a copy the
 * store did not report).
 */
function constraintBroken(c: GrantConstraints, head: HeadResult): string | undefined {
  const limits = limitsOfClaims(c);
  const broken = sizeRefusal(limits, head.size, 'it') ?? typeRefusal(limits, head.contentType, 'its type');
  if (broken) return broken.message;
  if (c.sha256 !== undefined && head.sha256 !== undefined && head.sha256 !== c.sha256) {
    return 'its SHA-256 differs from the one bound in the key';
  }
  return undefined;
}
