/** The SQLite record store's schema and its queries (rows become records in record-rows.ts). */

/** Upload keys that expired after a cursor (expiry, id) and up to a time: see `lapsedUploads`. */
export const LAPSED_UPLOADS = `SELECT * FROM grants
  WHERE op = 'put' AND (expires_at > ? OR (expires_at = ? AND id > ?)) AND expires_at <= ?
  ORDER BY expires_at, id LIMIT ?`;

/** Unfinished resumable uploads issued after a cursor (issue time, id) and up to a time: see `unfinishedUploads`. */
export const UNFINISHED_UPLOADS = `SELECT * FROM grants
  WHERE reserved_until IS NOT NULL AND op = 'put' AND completed_at IS NULL
    AND (issued_at > ? OR (issued_at = ? AND id > ?)) AND issued_at <= ?
  ORDER BY issued_at, id LIMIT ?`;

/** An object's upload keys valid at some moment of a span: see `uploadKeysFor`. */
export const UPLOAD_KEYS_FOR = `SELECT * FROM grants
  WHERE object = ? AND op = 'put' AND issued_at <= ? AND expires_at >= ?
  ORDER BY issued_at DESC, id DESC LIMIT ?`;

/** The links that still work: see `listShares`. */
export const LIVE_SHARES = `SELECT s.* FROM shares s
  JOIN objects o ON o.key = s.object AND o.state = 'complete' AND o.validation IS NULL
    AND (s.etag IS NULL OR o.etag = s.etag)
  WHERE s.owner = ? AND s.revoked_at IS NULL AND s.expires_at > ?
  ORDER BY s.created_at DESC, s.id`;

/**
 * A subject's usage: each object counts once, at the larger of its stored size and its largest
 * live reservation (an overwrite in flight replaces the old bytes; a client's retries, each with
 * a new key, end up as one object). Parameters: subject, now, subject, an object to leave out, now.
 */
export const USAGE = `SELECT coalesce(sum(max(CASE WHEN o.state = 'complete' THEN o.size ELSE 0 END, coalesce(r.bytes, 0))), 0)
                  AS bytes,
                count(*) AS objects
         FROM objects o
         LEFT JOIN (
           SELECT object, max(reserved_bytes) AS bytes FROM grants
           WHERE subject = ? AND op = 'put' AND completed_at IS NULL
             AND coalesce(reserved_until, expires_at) > ?
           GROUP BY object
         ) r ON r.object = o.key
         WHERE o.owner = ? AND o.key IS NOT ? AND (o.state = 'complete' OR o.pending_until >= ?)`;

/** Brings a store made by an earlier version up to this schema (columns added since). */
export function migrate(db: { pragma(sql: string): unknown; exec(sql: string): unknown }): void {
  const columns = db.pragma('table_info(grants)') as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'reserved_until'))
    db.exec('ALTER TABLE grants ADD COLUMN reserved_until INTEGER');
  // What an upload says of its object (its file's name, the app's fields): on its key, then on
  // the object it made.
  if (!columns.some((c) => c.name === 'description'))
    db.exec('ALTER TABLE grants ADD COLUMN description TEXT');
  const objectColumns = db.pragma('table_info(objects)') as Array<{ name: string }>;
  if (!objectColumns.some((c) => c.name === 'description'))
    db.exec('ALTER TABLE objects ADD COLUMN description TEXT');
  // Links made before versions were recorded are bound to the version their object has now.
  const shareColumns = db.pragma('table_info(shares)') as Array<{ name: string }>;
  if (!shareColumns.some((c) => c.name === 'etag')) {
    db.exec(`ALTER TABLE shares ADD COLUMN etag TEXT;
      UPDATE shares SET etag = (SELECT etag FROM objects WHERE objects.key = shares.object)`);
  }
  // Uploads validated before anyone may read them: pending until their validators pass.
  if (!objectColumns.some((c) => c.name === 'validation'))
    db.exec('ALTER TABLE objects ADD COLUMN validation TEXT');
  // Every put key is looked at once it has lapsed, reported or not (the index that served only
  // unreported ones goes).
  db.exec('DROP INDEX IF EXISTS grants_unreported');
  // Unfinished resumable uploads by issue time (stale ones are cancelled at a store that lists none).
  db.exec(
    'CREATE INDEX IF NOT EXISTS grants_resumable ON grants (issued_at, id) WHERE reserved_until IS NOT NULL',
  );
}

/** The tables of the SQLite record store (created if missing). */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY NOT NULL,
  subject TEXT NOT NULL,
  op TEXT NOT NULL,
  object TEXT NOT NULL,
  rule TEXT NOT NULL,
  constraints TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  kid TEXT NOT NULL,
  client_address TEXT,
  user_agent TEXT,
  share_id TEXT,
  reserved_bytes INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER,
  reserved_until INTEGER,
  description TEXT
);
CREATE INDEX IF NOT EXISTS grants_subject ON grants (subject, expires_at);
CREATE INDEX IF NOT EXISTS grants_share ON grants (share_id) WHERE share_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS grants_lapsed ON grants (expires_at, id) WHERE op = 'put';
CREATE INDEX IF NOT EXISTS grants_object ON grants (object, issued_at) WHERE op = 'put';
CREATE TABLE IF NOT EXISTS objects (
  key TEXT PRIMARY KEY NOT NULL,
  owner TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
  size INTEGER,
  content_type TEXT,
  sha256 TEXT,
  etag TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  pending_until INTEGER,
  description TEXT,
  validation TEXT
);
CREATE INDEX IF NOT EXISTS objects_owner ON objects (owner, key);
CREATE INDEX IF NOT EXISTS objects_pending ON objects (pending_until) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY NOT NULL,
  type TEXT NOT NULL,
  object TEXT NOT NULL,
  key_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  etag TEXT NOT NULL,
  time TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  handled_at INTEGER
);
CREATE INDEX IF NOT EXISTS events_object ON events (object);
CREATE TABLE IF NOT EXISTS shares (
  id TEXT PRIMARY KEY NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  object TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  etag TEXT
);
CREATE INDEX IF NOT EXISTS shares_owner ON shares (owner, expires_at);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY NOT NULL,
  holder TEXT NOT NULL,
  until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('key', 'subject', 'signing_key')),
  value TEXT NOT NULL,
  before INTEGER,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
`;
