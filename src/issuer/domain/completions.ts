import type { HeadResult } from '../../drivers/types.js';
import { contentTypeAllowed } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import type { EventReceipt, StorageEvent } from '../../wire/events.js';
import type { DeletedObjectBody } from '../../wire/issuer-api.js';
import type { StoredObjectBody } from '../../wire/storage-api.js';
import type { IssuerCore } from '../core.js';
import type { EventRecord } from '../records.js';
import type { Identity } from '../rules.js';

/** A storage event (already authenticated), recorded once. */
export function recordStorageEvent(core: IssuerCore, e: StorageEvent): Promise<EventReceipt> {
  return complete(core, {
    id: e.id,
    type: e.type,
    object: e.object,
    keyId: e.key_id,
    subject: e.subject,
    size: e.size,
    contentType: e.content_type,
    sha256: e.sha256,
    etag: e.etag,
    time: e.time,
    receivedAt: core.now(),
  });
}

/** Records a storage event once; for an upload, re-checks the quota and calls the app's hook. */
async function complete(core: IssuerCore, record: EventRecord): Promise<EventReceipt> {
  const now = record.receivedAt;
  const outcome = await core.records.recordEvent(record);
  if (outcome.handled || record.type !== 'object.created') {
    if (outcome.recorded) await core.records.markEventHandled(record.id, now);
    return { received: record.id, duplicate: !outcome.recorded };
  }
  const owner = outcome.grant?.subject ?? record.subject;
  const quota = await core.quotaFor(owner);
  const usage = outcome.usage ?? (await core.records.usage(owner, now));
  if (
    (quota.maxBytes !== undefined && usage.bytes > quota.maxBytes) ||
    (quota.maxObjects !== undefined && usage.objects > quota.maxObjects)
  ) {
    // Checked again with the real size: the upload is removed, not kept over quota.
    core.log?.warn({ object: record.object, owner, code: 'quota_exceeded' }, 'upload over quota removed');
    await core.driver.delete(record.object, core.driverContext(owner, '(quota)'));
    await core.records.dropObject(record.object, record.etag);
  } else if (core.options.onUploadComplete) {
    await core.options.onUploadComplete({
      eventId: record.id,
      object: record.object,
      owner,
      size: record.size,
      contentType: record.contentType,
      sha256: record.sha256,
      etag: record.etag,
      grant: outcome.grant,
    });
  }
  await core.records.markEventHandled(record.id, now);
  return { received: record.id, duplicate: !outcome.recorded };
}

/**
 * A store that sends no events: the client reports an upload or a deletion done, and the issuer
 * reads the object's head from the store. It records the upload only if it keeps its key's
 * constraints (an object that breaks them is deleted, and the refusal is the answer), or the
 * deletion only if the object is gone.
 */
export async function verifyCompletion(
  core: IssuerCore,
  identity: Identity,
  grantId: string,
): Promise<StoredObjectBody | DeletedObjectBody> {
  const grant = await core.records.getGrant(grantId);
  if (
    core.driver.completion !== 'client' ||
    !grant ||
    (grant.op !== 'put' && grant.op !== 'delete') ||
    grant.subject !== identity.subject
  ) {
    throw new ValetError('not_found', 'no such upload or deletion');
  }
  const context = core.driverContext(grant.subject, '(completion)');
  const head = await core.driver.head(grant.object, context);
  const verified = (fields: Partial<EventRecord>): EventRecord => ({
    id: `verified:${grant.id}`,
    type: 'object.created',
    object: grant.object,
    keyId: grant.id,
    subject: grant.subject,
    size: 0,
    contentType: '',
    sha256: '',
    etag: '',
    time: new Date(context.now).toISOString(),
    receivedAt: context.now,
    ...fields,
  });
  if (grant.op === 'delete') {
    if (head) throw new ValetError('precondition_failed', 'the object is still in the store');
    await complete(core, verified({ type: 'object.deleted' }));
    return { object: grant.object, deleted: true };
  }
  if (!head) throw new ValetError('not_found', 'the object is not in the store');
  const problem = constraintBroken(grant.constraints, head);
  if (problem) {
    core.log?.warn({ object: grant.object, grant: grant.id, problem }, 'upload breaks its key: removed');
    await core.driver.delete(grant.object, context);
    await core.records.dropObject(grant.object, head.etag);
    throw new ValetError('upload_rejected', `the upload was removed: ${problem}`);
  }
  const record = verified({
    size: head.size,
    contentType: head.contentType,
    sha256: head.sha256 ?? '',
    etag: head.etag,
  });
  await complete(core, record);
  return {
    object: record.object,
    size: record.size,
    content_type: record.contentType,
    sha256: record.sha256,
    etag: record.etag,
  };
}

/** Why an object's head breaks its key's constraints, if it does. */
function constraintBroken(constraints: Record<string, unknown>, head: HeadResult): string | undefined {
  const c = constraints as {
    size?: number;
    max_size?: number;
    min_size?: number;
    content_types?: string[];
    sha256?: string;
  };
  if (c.size !== undefined && head.size !== c.size) return `its size is ${head.size}, not ${c.size}`;
  if (c.max_size !== undefined && head.size > c.max_size) return `it is larger than ${c.max_size} bytes`;
  if (c.min_size !== undefined && head.size < c.min_size) return `it is smaller than ${c.min_size} bytes`;
  if (c.content_types && !contentTypeAllowed(head.contentType, c.content_types)) {
    return `its type ${head.contentType} is not allowed`;
  }
  if (c.sha256 !== undefined && head.sha256 !== undefined && head.sha256 !== c.sha256) {
    return 'its SHA-256 differs from the one bound in the key';
  }
  return undefined;
}
