import { ValetError } from '../../token/errors.js';
import type { ObjectRecord } from '../records/records.js';
import type { ValidationQueue } from '../records/validations.js';

/**
 * Refuses to let anyone read or share an object its rule's validators have not passed yet: no read
 * key, no share link, no key through an existing link (`409 object_pending`).
 */
export function refuseIfPending(record: ObjectRecord | undefined, what: string): void {
  if (record?.validation === 'pending') {
    throw new ValetError(
      'object_pending',
      `${what}: the object is still being checked (its upload is validated before anyone may read it); ask again once it is published`,
    );
  }
}

/** The words a client hears for an upload its validators rejected. */
export function contentRejected(reason: string | null): ValetError {
  return new ValetError(
    'content_rejected',
    `the upload was rejected and removed: ${reason ?? 'it failed a check'}`,
  );
}

/**
 * What a completion answer adds for an upload its rule validates (found by the key id that made
 * it): `validation: 'pending'` while its verdict is awaited, nothing once published; a rejected one
 * is refused with its reason (`422 content_rejected`).
 */
export async function validationOfUpload(
  validations: ValidationQueue | undefined,
  id: string,
): Promise<{ validation?: 'pending' }> {
  const found = await validations?.get(id);
  if (!found || found.status === 'published') return {};
  if (found.status === 'rejected' || found.status === 'rejecting') throw contentRejected(found.reason);
  if (found.status === 'replaced') {
    throw new ValetError(
      'precondition_failed',
      'the object was replaced or deleted before this upload was checked',
    );
  }
  return { validation: 'pending' };
}
