import type { Queryable } from './postgres-connect.js';
import { GRANT_COLUMNS } from './postgres-schema.js';
import {
  descriptionJson,
  eventValues,
  type GrantRow,
  type ObjectRow,
  toGrant,
  toObject,
} from './record-rows.js';
import type { EventOutcome, EventRecord, GrantRecord, Usage } from './records.js';

/**
 * Records a storage event inside the caller's transaction, as the SQLite store does (see
 * `recordEventRows`): once by id, whichever replica it reaches (a second insert of the same id
 * waits for the first to commit, then changes nothing), the key completed, the registry updated.
 * The owner's advisory lock is taken before the usage is read, so completions and reservations of
 * one subject on different replicas see each other.
 */
export async function recordEventTx(
  q: Queryable,
  s: string,
  event: EventRecord,
  lockSubject: (subject: string) => Promise<unknown>,
  usage: (subject: string, now: number) => Promise<Usage>,
): Promise<EventOutcome> {
  const grantRows = (await q.query(`SELECT ${GRANT_COLUMNS} FROM ${s}.grants WHERE id = $1`, [event.keyId]))
    .rows as GrantRow[];
  const grant = grantRows[0] && toGrant(grantRows[0]);
  const owner = grant?.subject ?? event.subject;
  await lockSubject(owner);
  const inserted = await q.query(
    `INSERT INTO ${s}.events (id, type, object, key_id, subject, size, content_type, sha256, etag, time, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
    eventValues(event),
  );
  if (inserted.rowCount === 0) {
    const seen = (await q.query(`SELECT handled_at FROM ${s}.events WHERE id = $1`, [event.id])).rows[0] as {
      handled_at: number | null;
    };
    return { recorded: false, handled: seen.handled_at !== null, grant, object: undefined, usage: undefined };
  }
  await q.query(`UPDATE ${s}.grants SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL`, [
    event.receivedAt,
    event.keyId,
  ]);
  await endEarlierValidations(q, s, event);
  if (event.type === 'object.deleted') {
    await q.query(`DELETE FROM ${s}.objects WHERE key = $1`, [event.object]);
    return { recorded: true, handled: false, grant, object: undefined, usage: undefined };
  }
  // Earlier keys for the same object (a client's retries) no longer hold a reservation.
  await q.query(
    `UPDATE ${s}.grants SET completed_at = $1 WHERE subject = $2 AND object = $3 AND op = 'put'
       AND completed_at IS NULL AND issued_at <= $4`,
    [event.receivedAt, owner, event.object, grant?.issuedAt ?? event.receivedAt],
  );
  // The renewed keys of a resumable upload end with it.
  await q.query(
    `UPDATE ${s}.grants SET completed_at = $1 WHERE subject = $2 AND object = $3 AND completed_at IS NULL
       AND constraints->>'upload' = $4`,
    [event.receivedAt, owner, event.object, event.keyId],
  );
  await queueValidation(q, s, event, owner, grant);
  const object = (
    await q.query(
      `INSERT INTO ${s}.objects (key, owner, state, size, content_type, sha256, etag, created_at, updated_at,
         pending_until, description, validation)
       VALUES ($1, $2, 'complete', $3, $4, $5, $6, $7, $7, NULL, $8::jsonb, $9)
       ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, state = 'complete', size = EXCLUDED.size,
         content_type = EXCLUDED.content_type, sha256 = EXCLUDED.sha256, etag = EXCLUDED.etag,
         updated_at = EXCLUDED.updated_at, pending_until = NULL, description = EXCLUDED.description,
         validation = EXCLUDED.validation
       RETURNING *`,
      [
        event.object,
        owner,
        event.size,
        event.contentType,
        event.sha256,
        event.etag,
        event.receivedAt,
        // The version is what the key that made it said it is.
        descriptionJson(grant?.description),
        grant?.op === 'put' && grant.constraints.hold === true ? 'pending' : null,
      ],
    )
  ).rows[0] as ObjectRow;
  return {
    recorded: true,
    handled: false,
    grant,
    object: toObject(object),
    usage: await usage(owner, event.receivedAt),
  };
}

/** Queues the validation of a new version whose key said `hold` (its rule validates content). */
async function queueValidation(
  q: Queryable,
  s: string,
  event: EventRecord,
  owner: string,
  grant: GrantRecord | undefined,
): Promise<void> {
  // A version whose key said `hold` waits for its rule's validators: pending until they pass.
  if (grant?.op !== 'put' || grant.constraints.hold !== true) return;
  await q.query(
    `INSERT INTO ${s}.validations (id, object, etag, owner, rule, status, due_at, created_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)
     ON CONFLICT (id) DO UPDATE SET etag = EXCLUDED.etag, status = 'pending', reason = NULL,
       attempts = 0, due_at = EXCLUDED.due_at, last_error = NULL, holder = NULL, lease_until = NULL,
       created_at = EXCLUDED.created_at, finished_at = NULL
     WHERE ${s}.validations.etag <> EXCLUDED.etag`,
    [event.keyId, event.object, event.etag, owner, grant.rule, event.receivedAt],
  );
}

/**
 * A validation under way for an earlier version (or the deleted object) has nothing left to
 * check (one rejecting its version still finishes: it says why, and removes no newer version).
 */
async function endEarlierValidations(q: Queryable, s: string, event: EventRecord): Promise<void> {
  await q.query(
    `UPDATE ${s}.validations SET status = 'replaced', finished_at = $1, holder = NULL, lease_until = NULL
     WHERE object = $2 AND status = 'pending' AND id <> $3`,
    [event.receivedAt, event.object, event.keyId],
  );
}
