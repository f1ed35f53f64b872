import { VALIDATIONS_SCHEMA_V4 } from './postgres-validations.js';

/**
 * The PostgreSQL record store's schema and queries. Every table lives in one schema of its own
 * (`valet` by default), so Valet's records can share the app's database without touching its
 * tables. Times are milliseconds (BIGINT), read back as numbers.
 */

/** A schema name as it appears in SQL: a plain identifier, quoted. */
export function quoteSchema(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new TypeError(
      `schema must be a lower-case SQL identifier (a-z, 0-9, _), got ${JSON.stringify(name)}`,
    );
  }
  return `"${name}"`;
}

/** The version this code writes; stores made by a newer version are refused. */
export const SCHEMA_VERSION = 5;

/** Version 1: the tables. */
const SCHEMA_V1 = (s: string) => `
CREATE TABLE ${s}.grants (
  id TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  op TEXT NOT NULL,
  object TEXT NOT NULL,
  rule TEXT NOT NULL,
  constraints JSONB NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  kid TEXT NOT NULL,
  client_address TEXT,
  user_agent TEXT,
  share_id TEXT,
  reserved_bytes BIGINT NOT NULL DEFAULT 0,
  completed_at BIGINT,
  reserved_until BIGINT
);
CREATE INDEX grants_subject ON ${s}.grants (subject, object) WHERE op = 'put' AND completed_at IS NULL;
CREATE INDEX grants_upload ON ${s}.grants ((constraints->>'upload')) WHERE constraints ? 'upload';
CREATE INDEX grants_unreported ON ${s}.grants (expires_at, id) WHERE op = 'put' AND completed_at IS NULL;
CREATE TABLE ${s}.objects (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
  size BIGINT,
  content_type TEXT,
  sha256 TEXT,
  etag TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  pending_until BIGINT
);
CREATE INDEX objects_owner ON ${s}.objects (owner, key);
CREATE INDEX objects_pending ON ${s}.objects (pending_until) WHERE state = 'pending';
CREATE TABLE ${s}.events (
  seq BIGSERIAL UNIQUE,
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  object TEXT NOT NULL,
  key_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  size BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  etag TEXT NOT NULL,
  time TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  handled_at BIGINT
);
CREATE INDEX events_object ON ${s}.events (object);
CREATE TABLE ${s}.shares (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL UNIQUE,
  object TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX shares_owner ON ${s}.shares (owner, expires_at);
CREATE TABLE ${s}.revocations (
  seq BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('key', 'subject', 'signing_key')),
  value TEXT NOT NULL,
  before BIGINT,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX revocations_expiry ON ${s}.revocations (expires_at);
CREATE TABLE ${s}.leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until BIGINT NOT NULL
);`;

/**
 * Version 2: every put key is looked at once it has lapsed, reported or not; an object's keys by
 * time; share links bound to the version they were made for (existing ones: the version now).
 */
const SCHEMA_V2 = (s: string) => `
DROP INDEX ${s}.grants_unreported;
CREATE INDEX grants_lapsed ON ${s}.grants (expires_at, id) WHERE op = 'put';
CREATE INDEX grants_object ON ${s}.grants (object, issued_at) WHERE op = 'put';
ALTER TABLE ${s}.shares ADD COLUMN etag TEXT;
UPDATE ${s}.shares SET etag = o.etag FROM ${s}.objects o WHERE o.key = ${s}.shares.object;`;

/** Version 3: what an upload says of its object (its file's name, the app's fields). */
const SCHEMA_V3 = (s: string) => `
ALTER TABLE ${s}.grants ADD COLUMN description JSONB;
ALTER TABLE ${s}.objects ADD COLUMN description JSONB;`;

/** Version 5: unfinished resumable uploads by issue time (stale ones are cancelled at the store). */
const SCHEMA_V5 = (s: string) => `
CREATE INDEX grants_resumable ON ${s}.grants (issued_at, id) WHERE reserved_until IS NOT NULL;`;

/** Migrations by the version they bring the schema to (run in order, each in a transaction). */
export function migrations(s: string): Record<number, string> {
  return { 1: SCHEMA_V1(s), 2: SCHEMA_V2(s), 3: SCHEMA_V3(s), 4: VALIDATIONS_SCHEMA_V4(s), 5: SCHEMA_V5(s) };
}

/** A grant's columns, with its constraints as JSON text (as the SQLite rows have them). */
export const GRANT_COLUMNS = `id, subject, op, object, rule, constraints::text AS constraints, issued_at,
  expires_at, kid, client_address, user_agent, share_id, reserved_bytes, completed_at, reserved_until,
  description::text AS description`;

/**
 * A subject's usage, as in SQLite (see `USAGE` there): each object once, at the larger of its
 * stored size and its largest live reservation. Parameters: subject, now, an object to leave out.
 */
export const usageSql = (s: string) => `SELECT
    coalesce(sum(GREATEST(CASE WHEN o.state = 'complete' THEN o.size ELSE 0 END, coalesce(r.bytes, 0))), 0)::bigint
      AS bytes,
    count(*)::bigint AS objects
  FROM ${s}.objects o
  LEFT JOIN (
    SELECT object, max(reserved_bytes) AS bytes FROM ${s}.grants
    WHERE subject = $1 AND op = 'put' AND completed_at IS NULL
      AND coalesce(reserved_until, expires_at) > $2
    GROUP BY object
  ) r ON r.object = o.key
  WHERE o.owner = $1 AND o.key IS DISTINCT FROM $3 AND (o.state = 'complete' OR o.pending_until >= $2)`;

/** Upload keys that expired after a cursor and up to a time: see `lapsedUploads`. */
export const lapsedSql = (s: string) => `SELECT ${GRANT_COLUMNS} FROM ${s}.grants
  WHERE op = 'put' AND (expires_at > $1 OR (expires_at = $1 AND id > $2)) AND expires_at <= $3
  ORDER BY expires_at, id LIMIT $4`;

/** Unfinished resumable uploads issued after a cursor and up to a time: see `unfinishedUploads`. */
export const unfinishedSql = (s: string) => `SELECT ${GRANT_COLUMNS} FROM ${s}.grants
  WHERE reserved_until IS NOT NULL AND op = 'put' AND completed_at IS NULL
    AND (issued_at > $1 OR (issued_at = $1 AND id COLLATE "C" > $2)) AND issued_at <= $3
  ORDER BY issued_at, id COLLATE "C" LIMIT $4`;

/** An object's upload keys valid at some moment of a span: see `uploadKeysFor`. */
export const uploadKeysForSql = (s: string) => `SELECT ${GRANT_COLUMNS} FROM ${s}.grants
  WHERE object = $1 AND op = 'put' AND issued_at <= $2 AND expires_at >= $3
  ORDER BY issued_at DESC, id COLLATE "C" DESC LIMIT $4`;

/** The links that still work: see `listShares`. */
export const liveSharesSql = (s: string) => `SELECT sh.* FROM ${s}.shares sh
  JOIN ${s}.objects o ON o.key = sh.object AND o.state = 'complete' AND o.validation IS NULL
    AND (sh.etag IS NULL OR o.etag = sh.etag)
  WHERE sh.owner = $1 AND sh.revoked_at IS NULL AND sh.expires_at > $2
  ORDER BY sh.created_at DESC, sh.id COLLATE "C"`;

/** Inserts a grant: parameters in the order of `grantValues` (record-rows.ts). */
export const insertGrantSql = (s: string) => `INSERT INTO ${s}.grants (id, subject, op, object, rule,
    constraints, issued_at, expires_at, kid, client_address, user_agent, share_id, reserved_bytes,
    completed_at, reserved_until, description)
  VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb)`;

/**
 * A pending registry row for an object being uploaded, or a longer life for one already pending
 * (a complete object is left alone). Parameters: key, owner, now, pending until.
 */
export const pendingObjectSql = (s: string) => `INSERT INTO ${s}.objects
    (key, owner, state, created_at, updated_at, pending_until)
  VALUES ($1, $2, 'pending', $3, $3, $4)
  ON CONFLICT (key) DO UPDATE SET pending_until = GREATEST(${s}.objects.pending_until, EXCLUDED.pending_until)
    WHERE ${s}.objects.state = 'pending'`;

/**
 * A reservation with no quota to check: the grant and its pending registry row (as
 * {@link pendingObjectSql}) in one statement, so one round trip and one commit. Parameters: the
 * grant's ({@link insertGrantSql}), then now ($17) and pending until ($18).
 */
export const reserveWithoutQuotaSql = (s: string) => `WITH g AS (${insertGrantSql(s)} RETURNING 1)
  INSERT INTO ${s}.objects (key, owner, state, created_at, updated_at, pending_until)
  SELECT $4, $2, 'pending', $17, $17, $18 FROM g
  ON CONFLICT (key) DO UPDATE SET pending_until = GREATEST(${s}.objects.pending_until, EXCLUDED.pending_until)
    WHERE ${s}.objects.state = 'pending'`;
