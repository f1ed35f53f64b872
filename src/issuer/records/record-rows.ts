import type {
  EventRecord,
  GrantConstraints,
  GrantRecord,
  ObjectDescription,
  ObjectRecord,
  RevocationRecord,
  ShareRecord,
} from './records.js';
import type { ValidationRecord } from './validations.js';

/** Rows of the SQL record stores (SQLite and PostgreSQL share the column names) as records. */

export interface GrantRow {
  id: string;
  subject: string;
  op: GrantRecord['op'];
  object: string;
  rule: string;
  constraints: string;
  issued_at: number;
  expires_at: number;
  kid: string;
  client_address: string | null;
  user_agent: string | null;
  share_id: string | null;
  reserved_bytes: number;
  completed_at: number | null;
  reserved_until: number | null;
  /** JSON text (SQLite, and PostgreSQL's `::text`), or null. */
  description?: string | null;
}

export interface ObjectRow {
  key: string;
  owner: string;
  state: ObjectRecord['state'];
  size: number | null;
  content_type: string | null;
  sha256: string | null;
  etag: string | null;
  created_at: number;
  updated_at: number;
  pending_until: number | null;
  /** JSON: text from SQLite, parsed already by `pg` from a jsonb column; or null. */
  description?: string | ObjectDescription | null;
  validation?: string | null;
}

export interface ShareRow {
  id: string;
  secret_hash: string;
  object: string;
  owner: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  etag: string | null;
}

export function toShare(row: ShareRow): ShareRecord {
  return {
    id: row.id,
    secretHash: row.secret_hash,
    object: row.object,
    owner: row.owner,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    etag: row.etag,
  };
}

export function toGrant(row: GrantRow): GrantRecord {
  return {
    id: row.id,
    subject: row.subject,
    op: row.op,
    object: row.object,
    rule: row.rule,
    // Written by recordGrant from a GrantRecord's own constraints (JSON text).
    constraints: JSON.parse(row.constraints) as GrantConstraints,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    kid: row.kid,
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    shareId: row.share_id,
    reservedBytes: row.reserved_bytes,
    completedAt: row.completed_at,
    ...(row.reserved_until !== null &&
      row.reserved_until !== undefined && { reservedUntil: row.reserved_until }),
    ...describedBy(row.description),
  };
}

/** `{ description }` from a row's column, or nothing when there is none. */
function describedBy(value: string | ObjectDescription | null | undefined): {
  description?: ObjectDescription;
} {
  if (value === null || value === undefined) return {};
  return { description: typeof value === 'string' ? (JSON.parse(value) as ObjectDescription) : value };
}

/** A description as stored: JSON text, or null when it says nothing. */
export function descriptionJson(description: ObjectDescription | undefined): string | null {
  if (!description || (description.filename === undefined && description.metadata === undefined)) return null;
  return JSON.stringify(description);
}

export function toObject(row: ObjectRow): ObjectRecord {
  return {
    key: row.key,
    owner: row.owner,
    state: row.state,
    size: row.size,
    contentType: row.content_type,
    sha256: row.sha256,
    etag: row.etag,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    pendingUntil: row.pending_until,
    ...describedBy(row.description),
    ...(row.validation === 'pending' && { validation: 'pending' as const }),
  };
}

export function toEvent(r: Record<string, string | number>): EventRecord {
  return {
    id: r.id as string,
    type: r.type as EventRecord['type'],
    object: r.object as string,
    keyId: r.key_id as string,
    subject: r.subject as string,
    size: r.size as number,
    contentType: r.content_type as string,
    sha256: r.sha256 as string,
    etag: r.etag as string,
    time: r.time as string,
    receivedAt: r.received_at as number,
  };
}

export interface RevocationRow {
  seq: number;
  kind: RevocationRecord['kind'];
  value: string;
  before: number | null;
  expires_at: number;
  created_at: number;
}

/** The active revocations and their version (the last sequence number and the count). */
export function toRevocations(rows: RevocationRow[]): { version: string; revocations: RevocationRecord[] } {
  const last = rows.length === 0 ? 0 : (rows[rows.length - 1] as RevocationRow).seq;
  return {
    version: `${last}-${rows.length}`,
    revocations: rows.map((r) => ({
      kind: r.kind,
      value: r.value,
      before: r.before,
      expiresAt: r.expires_at,
      createdAt: r.created_at,
    })),
  };
}

/** A grant's values in the column order of `grants` (both stores insert them so). */
export function grantValues(g: GrantRecord): Array<string | number | null> {
  return [
    g.id,
    g.subject,
    g.op,
    g.object,
    g.rule,
    JSON.stringify(g.constraints),
    g.issuedAt,
    g.expiresAt,
    g.kid,
    g.clientAddress,
    g.userAgent,
    g.shareId,
    g.reservedBytes,
    g.completedAt,
    g.reservedUntil ?? null,
    descriptionJson(g.description),
  ];
}

/** An event's values in the column order of `events` (id through received_at). */
export function eventValues(e: EventRecord): Array<string | number> {
  return [
    e.id,
    e.type,
    e.object,
    e.keyId,
    e.subject,
    e.size,
    e.contentType,
    e.sha256,
    e.etag,
    e.time,
    e.receivedAt,
  ];
}

/** The row of a validation, as SQLite and PostgreSQL return it. */
export interface ValidationRow {
  id: string;
  object: string;
  etag: string;
  owner: string;
  rule: string;
  status: ValidationRecord['status'];
  reason: string | null;
  attempts: number;
  due_at: number;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export function toValidation(r: ValidationRow): ValidationRecord {
  return {
    id: r.id,
    object: r.object,
    etag: r.etag,
    owner: r.owner,
    rule: r.rule,
    status: r.status,
    reason: r.reason,
    attempts: Number(r.attempts),
    dueAt: Number(r.due_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  };
}
