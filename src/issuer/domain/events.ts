import type { EventAck, StorageEvent } from '../../wire/events.js';
import type { IssuerCore } from '../core.js';
import { type EventRecord, exceeds, type Quota, type Usage } from '../records/records.js';

/** What recording an event did: the receipt, and whether the upload was kept (not removed for quota). */
export interface Recorded extends EventAck {
  kept: boolean;
  /** An upload removed over the quota: the quota and the usage with the upload counted in. */
  over?: { quota: Quota; usage: Usage; size: number };
}

/** A storage event (already authenticated) as a record. */
export function eventRecord(core: IssuerCore, e: StorageEvent): EventRecord {
  return {
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
  };
}

/**
 * An event the issuer itself records (an upload it verified from the store, a deletion it made):
 * the fields the store did not give are empty, its time the issuer's.
 */
export function issuerEvent(
  fields: Pick<EventRecord, 'id' | 'type' | 'object' | 'keyId' | 'subject'> & Partial<EventRecord>,
  now: number,
): EventRecord {
  return {
    size: 0,
    contentType: '',
    sha256: '',
    etag: '',
    time: new Date(now).toISOString(),
    receivedAt: now,
    ...fields,
  };
}

/**
 * Records an event once; for an upload, re-checks the quota (an upload over it is removed) and
 * calls the app's hook. The same event arriving twice at once (the webhook, and the receipt the
 * client passes on) is completed once: the second waits for the first.
 */
export function recordEvent(core: IssuerCore, record: EventRecord): Promise<Recorded> {
  const running = core.completing.get(record.id);
  if (running) return running.then((done) => ({ ...done, duplicate: true }));
  const work = complete(core, record).finally(() => core.completing.delete(record.id));
  core.completing.set(record.id, work);
  return work;
}

async function complete(core: IssuerCore, record: EventRecord): Promise<Recorded> {
  const now = record.receivedAt;
  const outcome = await core.records.recordEvent(record);
  const receipt = { received: record.id, duplicate: !outcome.recorded };
  if (outcome.handled || record.type !== 'object.created') {
    if (outcome.recorded) await core.records.markEventHandled(record.id, now);
    const current = await core.records.getObject(record.object);
    const kept = current?.etag === record.etag;
    if (kept || current || record.type !== 'object.created') return { ...receipt, kept };
    // Handled before and gone since: if it did not fit the quota, say so in numbers again.
    const owner = outcome.grant?.subject ?? record.subject;
    const quota = await core.quotaFor(owner);
    const left = await core.records.usage(owner, now);
    const usage = { bytes: left.bytes + record.size, objects: left.objects + 1 };
    return { ...receipt, kept, ...(exceeds(quota, usage) && { over: { quota, usage, size: record.size } }) };
  }
  const owner = outcome.grant?.subject ?? record.subject;
  const quota = await core.quotaFor(owner);
  const usage = outcome.usage ?? (await core.records.usage(owner, now));
  const kept = !exceeds(quota, usage);
  if (!kept) {
    // Checked again with the real size: the upload is removed, not kept over quota.
    core.log?.warn({ object: record.object, owner, code: 'quota_exceeded' }, 'upload over quota removed');
    await core.driver.delete(record.object, core.driverContext(owner, '(quota)'));
    await core.records.dropObject(record.object, record.etag);
  } else if (outcome.object?.validation === 'pending') {
    // Its rule validates it: the app hears of it with the verdict (domain/validations.ts).
    core.validationQueued();
  } else if (core.options.onUploadComplete) {
    await core.options.onUploadComplete({
      eventId: record.id,
      object: record.object,
      owner,
      size: record.size,
      contentType: record.contentType,
      sha256: record.sha256,
      etag: record.etag,
      ...outcome.object?.description,
      grant: outcome.grant,
      status: 'published',
    });
  }
  await core.records.markEventHandled(record.id, now);
  return { ...receipt, kept, ...(!kept && { over: { quota, usage, size: record.size } }) };
}
