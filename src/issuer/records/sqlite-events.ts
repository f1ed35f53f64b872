import type { Statement } from '../../sqlite/database.js';
import { eventValues, type GrantRow, type ObjectRow, toGrant, toObject } from './record-rows.js';
import type { EventOutcome, EventRecord, GrantRecord, Usage } from './records.js';

/** What recording an event needs of the SQLite store. */
export interface EventSql {
  stmt(sql: string): Statement;
  transaction<T>(fn: () => T): T;
  usage(subject: string, now: number): Usage;
}

/**
 * Records a storage event in one transaction: once by id (a redelivery changes nothing), the key
 * that made it completed, and the object registry updated (a creation completes the object and
 * ends the reservations of earlier keys for it and of the upload's renewed keys, and queues its
 * validation if its key said `hold`; a deletion removes it; either ends the validations of the
 * versions before).
 */
export function recordEventRows(sql: EventSql, event: EventRecord): EventOutcome {
  return sql.transaction((): EventOutcome => {
    const inserted = sql
      .stmt(
        `INSERT INTO events (id, type, object, key_id, subject, size, content_type, sha256, etag, time, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      )
      .run(...eventValues(event)).changes;
    const grantRow = sql.stmt('SELECT * FROM grants WHERE id = ?').get(event.keyId) as GrantRow | undefined;
    const grant = grantRow && toGrant(grantRow);
    if (inserted === 0) {
      const seen = sql.stmt('SELECT handled_at FROM events WHERE id = ?').get(event.id) as {
        handled_at: number | null;
      };
      return {
        recorded: false,
        handled: seen.handled_at !== null,
        grant,
        object: undefined,
        usage: undefined,
      };
    }
    sql
      .stmt('UPDATE grants SET completed_at = ? WHERE id = ? AND completed_at IS NULL')
      .run(event.receivedAt, event.keyId);
    // A validation under way for an earlier version (or the deleted object) has nothing left to
    // check (one rejecting its version still finishes: it says why, and removes no newer version).
    sql
      .stmt(
        `UPDATE validations SET status = 'replaced', finished_at = ?, holder = NULL, lease_until = NULL
         WHERE object = ? AND status = 'pending' AND id <> ?`,
      )
      .run(event.receivedAt, event.object, event.keyId);
    if (event.type === 'object.deleted') {
      sql.stmt('DELETE FROM objects WHERE key = ?').run(event.object);
      return { recorded: true, handled: false, grant, object: undefined, usage: undefined };
    }
    const owner = grant?.subject ?? event.subject;
    // Earlier keys for the same object (a client's retries) no longer hold a reservation.
    sql
      .stmt(
        `UPDATE grants SET completed_at = ? WHERE subject = ? AND object = ? AND op = 'put'
         AND completed_at IS NULL AND issued_at <= ?`,
      )
      .run(event.receivedAt, owner, event.object, grant?.issuedAt ?? event.receivedAt);
    // The renewed keys of a resumable upload end with it.
    sql
      .stmt(
        `UPDATE grants SET completed_at = ? WHERE subject = ? AND object = ? AND completed_at IS NULL
         AND json_extract(constraints, '$.upload') = ?`,
      )
      .run(event.receivedAt, owner, event.object, event.keyId);
    recordVersion(sql, event, owner, grant, grantRow?.description ?? null);
    const object = toObject(sql.stmt('SELECT * FROM objects WHERE key = ?').get(event.object) as ObjectRow);
    return { recorded: true, handled: false, grant, object, usage: sql.usage(owner, event.receivedAt) };
  });
}

/**
 * The registry row of a new version (the key that made it says what it is), pending and queued
 * for validation if its key said `hold`.
 */
function recordVersion(
  sql: EventSql,
  event: EventRecord,
  owner: string,
  grant: GrantRecord | undefined,
  description: string | null,
): void {
  // A version whose key said `hold` waits for its rule's validators: pending until they pass.
  const held = grant?.op === 'put' && grant.constraints.hold === true;
  sql
    .stmt(
      `INSERT INTO objects (key, owner, state, size, content_type, sha256, etag, created_at, updated_at,
         pending_until, description, validation)
       VALUES (?, ?, 'complete', ?, ?, ?, ?, ?, ?, NULL, ?, ?)
       ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, state = 'complete', size = excluded.size,
         content_type = excluded.content_type, sha256 = excluded.sha256, etag = excluded.etag,
         updated_at = excluded.updated_at, pending_until = NULL, description = excluded.description,
         validation = excluded.validation`,
    )
    .run(
      event.object,
      owner,
      event.size,
      event.contentType,
      event.sha256,
      event.etag,
      event.receivedAt,
      event.receivedAt,
      // The version is what the key that made it said it is.
      description,
      held ? 'pending' : null,
    );
  if (held) {
    sql
      .stmt(
        `INSERT INTO validations (id, object, etag, owner, rule, status, due_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, status = 'pending', reason = NULL,
           attempts = 0, due_at = excluded.due_at, last_error = NULL, holder = NULL, lease_until = NULL,
           created_at = excluded.created_at, finished_at = NULL
         WHERE validations.etag <> excluded.etag`,
      )
      .run(event.keyId, event.object, event.etag, owner, grant.rule, event.receivedAt, event.receivedAt);
  }
}
