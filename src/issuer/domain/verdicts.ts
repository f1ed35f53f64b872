import { ValetError } from '../../token/errors.js';
import type { ValidationState } from '../../wire/validations.js';
import type { Identity } from '../auth/identity.js';
import type { IssuerCore } from '../core.js';

/** The longest a client may ask to wait for a verdict in one request, seconds. */
export const MAX_VERDICT_WAIT = 25;
const POLL_MS = 100;

/**
 * Where the validation of the caller's upload `id` stands (the key id, or the resumable upload's
 * id): at once, or (with `wait`) as soon as it is decided, waiting at most `wait` seconds. An
 * upload its rule does not validate is `published` once recorded.
 */
export async function uploadVerdict(
  core: IssuerCore,
  identity: Identity,
  id: string,
  wait: number,
): Promise<ValidationState> {
  const grant = await core.records.getGrant(id);
  if (grant?.op !== 'put' || grant.subject !== identity.subject) {
    throw new ValetError('not_found', 'no such upload');
  }
  const deadline = Date.now() + Math.min(wait, MAX_VERDICT_WAIT) * 1000;
  for (;;) {
    const found = await core.records.validations?.get(id);
    if (!found) {
      if (grant.constraints.hold !== true && (await core.records.getGrant(id))?.completedAt != null) {
        return { object: grant.object, status: 'published' };
      }
    } else if (found.status !== 'pending' && found.status !== 'rejecting') {
      // Rejecting: decided, but said only once the store's copy is gone too ("rejected and removed").
      return {
        object: found.object,
        status: found.status,
        ...(found.status === 'rejected' && found.reason !== null && { reason: found.reason }),
      };
    }
    if (Date.now() >= deadline) {
      if (!found)
        throw new ValetError('not_found', 'this upload has not been recorded yet (complete it first)');
      return { object: found.object, status: 'pending' };
    }
    await nextLook(core, id);
  }
}

/**
 * Waits for the next look at a verdict: {@link POLL_MS} (a replica may decide it), or less when
 * this issuer decides it meanwhile.
 */
function nextLook(core: IssuerCore, id: string): Promise<void> {
  let waiters = core.verdictWaiters.get(id);
  if (!waiters) {
    waiters = new Set();
    core.verdictWaiters.set(id, waiters);
  }
  const own = waiters;
  return new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      own.delete(wake);
      if (own.size === 0 && core.verdictWaiters.get(id) === own) core.verdictWaiters.delete(id);
      resolve();
    };
    const timer = setTimeout(wake, POLL_MS);
    own.add(wake);
  });
}
