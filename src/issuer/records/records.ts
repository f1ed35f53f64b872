import type { Operation, ValetClaims } from '../../token/claims.js';
import type { ValidationQueue } from './validations.js';

/**
 * What an upload says of its object beyond its bytes, kept with the object from the upload's
 * completion until it is replaced or deleted.
 */
export interface ObjectDescription {
  /** The file's own name as the client had it: listed, and the default download name. */
  filename?: string;
  /** The app's own fields (names of lowercase letters, digits, `_` and `-`). */
  metadata?: Record<string, string>;
}

/** A key's constraints as minted: its claims but who, what and when (see token/claims.ts). */
export type KeyConstraints = Omit<ValetClaims, 'op' | 'obj' | 'sub' | 'jti' | 'iat' | 'nbf' | 'exp'>;

/** The store's side of a multipart upload, kept with the grant that started it. */
export interface StoreMultipart {
  /** The store's own id of the upload. */
  upload_id: string;
  part_size: number;
  /** The type the upload declared, for a store that sets it at completion (Azure). */
  content_type?: string;
}

/** A grant's constraints: its key's, and the store's multipart upload it started, if any. */
export type GrantConstraints = KeyConstraints & { multipart?: StoreMultipart };

/** One valet key the issuer minted (the audit row). */
export interface GrantRecord {
  /** The key id (`jti`). */
  id: string;
  subject: string;
  op: Operation;
  object: string;
  /** The rule that allowed it. */
  rule: string;
  /** The key's constraints, as minted (max_size, content_types, once, …). */
  constraints: GrantConstraints;
  issuedAt: number;
  expiresAt: number;
  /** The signing key's id. */
  kid: string;
  clientAddress: string | null;
  userAgent: string | null;
  /** The share link the key was minted for, if any. */
  shareId: string | null;
  /** put: bytes reserved against the quota until the upload completes or the reservation ends. */
  reservedBytes: number;
  /**
   * put: when the reservation ends if the upload never completes, ms. Default: the key's expiry.
   * A resumable upload's lasts as long as storage keeps the unfinished upload (its lifetime).
   */
  reservedUntil?: number;
  /** When storage reported the key's upload or deletion. */
  completedAt: number | null;
  /** put: what the upload says of its object; the object has it once the upload completes. */
  description?: ObjectDescription;
}

/** An object in the registry. */
export interface ObjectRecord {
  key: string;
  owner: string;
  /** `pending`: a key to create it was minted, storage has not reported it yet. */
  state: 'pending' | 'complete';
  size: number | null;
  contentType: string | null;
  sha256: string | null;
  etag: string | null;
  createdAt: number;
  updatedAt: number;
  /** pending: when the reservation lapses if the upload never completes. */
  pendingUntil: number | null;
  /** complete: what the upload that made this version said of it (absent: nothing). */
  description?: ObjectDescription;
  /**
   * complete: `pending` while its rule's validators have not passed this version: listed to its
   * owner only, as pending; nobody gets a read key or a share link for it.
   */
  validation?: 'pending';
}

/** A share link. */
export interface ShareRecord {
  /** Public id (for unsharing and audit). */
  id: string;
  /** SHA-256 (hex) of the link's secret: the link itself is never stored. */
  secretHash: string;
  object: string;
  owner: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /**
   * The ETag of the version the link was made for: the link reads that version only (a replaced
   * or deleted object ends it). Null for a link recorded before versions were (any version).
   */
  etag: string | null;
}

/** A revocation before expiry. */
export interface RevocationRecord {
  kind: 'key' | 'subject' | 'signing_key';
  /** The key id, subject or signing key id. */
  value: string;
  /** subject: keys issued at or before this time (ms) are revoked. */
  before: number | null;
  /** After this time (ms) the revocation no longer matters and is dropped from the feed. */
  expiresAt: number;
  createdAt: number;
}

/** A storage event as recorded. */
export interface EventRecord {
  id: string;
  type: 'object.created' | 'object.deleted';
  object: string;
  keyId: string;
  subject: string;
  size: number;
  contentType: string;
  sha256: string;
  etag: string;
  time: string;
  receivedAt: number;
}

/** Per-subject limits; absent fields are unlimited. */
export interface Quota {
  maxBytes?: number;
  maxObjects?: number;
}

/** Whether a quota limits anything. */
export function hasLimits(quota: Quota): boolean {
  return quota.maxBytes !== undefined || quota.maxObjects !== undefined;
}

/** Whether `usage`, with `extra` added, goes past `quota`. */
export function exceeds(quota: Quota, usage: Usage, extra: Usage = { bytes: 0, objects: 0 }): boolean {
  return (
    (quota.maxBytes !== undefined && usage.bytes + extra.bytes > quota.maxBytes) ||
    (quota.maxObjects !== undefined && usage.objects + extra.objects > quota.maxObjects)
  );
}

/** What a subject uses now: complete objects plus live reservations. */
export interface Usage {
  bytes: number;
  objects: number;
}

/** Outcome of {@link RecordStore.reserveUpload}. */
export type ReserveResult = { ok: true } | { ok: false; usage: Usage };

/** Outcome of {@link RecordStore.recordEvent}. */
export interface EventOutcome {
  /** False when the event id was seen before (a redelivery): nothing changed. */
  recorded: boolean;
  /** True when the app's hook already ran for this event (see {@link RecordStore.markEventHandled}). */
  handled: boolean;
  /** The grant that minted the key behind the event, if it was this issuer's. */
  grant: GrantRecord | undefined;
  /** object.created: the registry row after the event. */
  object: ObjectRecord | undefined;
  /** object.created: the owner's usage with this object counted at its real size. */
  usage: Usage | undefined;
}

/**
 * Where the issuer keeps its records: keys issued, the object registry, storage events, shares
 * and revocations. SQLite ({@link SqliteRecordStore}) by default; a PostgreSQL store implements the
 * same interface. Methods that check and write together (`reserveUpload`, `recordEvent`) must be
 * atomic, so that two concurrent mints cannot both take the last of a quota.
 */
export interface RecordStore {
  /** Records a key that needs no reservation (get, delete). */
  recordGrant(grant: GrantRecord): Promise<void>;
  /**
   * Atomically: checks `quota` for `grant.subject` counting `grant.reservedBytes` (and one more
   * object if `grant.object` is new), then records the grant and a pending registry row.
   */
  reserveUpload(grant: GrantRecord, quota: Quota, now: number): Promise<ReserveResult>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /**
   * Atomically: records `grant`, a renewed key for the resumable upload `upload` (it carries the
   * upload's reservation), keeps the upload's pending registry row alive until the new key
   * expires, and returns how many keys have renewed this upload, this one included.
   */
  renewUpload(grant: GrantRecord, upload: string, now: number): Promise<number>;

  /** Current usage of a subject at `now` (complete objects and live reservations). */
  usage(subject: string, now: number): Promise<Usage>;
  getObject(key: string): Promise<ObjectRecord | undefined>;
  /**
   * A subject's complete objects, by key (bytewise): those whose key starts with `page.prefix`
   * and sorts after `page.after`, at most `page.limit` (all without it).
   */
  listObjects(owner: string, page?: ObjectPage): Promise<ObjectRecord[]>;
  /** Drops pending registry rows whose reservation lapsed before `now`; returns how many. */
  expirePending(now: number): Promise<number>;
  /**
   * Upload keys that can no longer be used: every put grant (reported or not, renewals and parts
   * of resumable uploads included) whose key expired after `after` (and, at the same instant,
   * whose id sorts after `afterId`) and at or before `upTo`; oldest first, at most `limit`.
   */
  lapsedUploads(
    after: { expiresAt: number; id: string },
    upTo: number,
    limit: number,
  ): Promise<GrantRecord[]>;

  /**
   * Resumable uploads (their creating grants) not finished: issued after `after` (and, at the same
   * instant, whose id sorts after `afterId`) and at or before `upTo`; oldest first, at most
   * `limit`. The issuer cancels those past their lifetime at a store that lists no uploads (GCS).
   */
  unfinishedUploads(
    after: { issuedAt: number; id: string },
    upTo: number,
    limit: number,
  ): Promise<GrantRecord[]>;

  /**
   * The put grants for `object` that were valid at some moment from `from` to `to` (issued at or
   * before `to`, expiring at or after `from`), newest first, at most `limit`.
   */
  uploadKeysFor(object: string, from: number, to: number, limit: number): Promise<GrantRecord[]>;

  /** Records a storage event once (by id) and applies it to the registry, atomically. */
  recordEvent(event: EventRecord): Promise<EventOutcome>;
  /** Notes that the app's completion hook ran for an event, so a redelivery does not run it again. */
  markEventHandled(id: string, now: number): Promise<void>;
  /** Marks the registry row of an upload refused at completion (quota) as removed. */
  dropObject(key: string, etag: string): Promise<void>;
  listEvents(object?: string): Promise<EventRecord[]>;

  createShare(share: ShareRecord): Promise<void>;
  getShare(id: string): Promise<ShareRecord | undefined>;
  /** The share whose link secret hashes to `secretHash`. */
  findShareBySecret(secretHash: string): Promise<ShareRecord | undefined>;
  /**
   * A subject's share links that still work at `now`, newest first: neither revoked nor expired,
   * and their object still the version they were made for.
   */
  listShares(owner: string, now: number): Promise<ShareRecord[]>;
  /** Marks a share revoked; false if there is no such share. */
  revokeShare(id: string, now: number): Promise<boolean>;

  addRevocation(revocation: RevocationRecord): Promise<void>;
  /** Revocations that still matter at `now`, and a version that changes whenever they do. */
  activeRevocations(now: number): Promise<{ version: string; revocations: RevocationRecord[] }>;

  /**
   * Claims the lease `name` for `holder` until `now + ttl` ms: true if `holder` now has it (it was
   * free, had run out, or was already `holder`'s). A periodic task (stale multipart aborts, checks
   * of unreported uploads) runs only on the issuer holding its lease, so replicas sharing a store
   * do it once. Optional: with a store that lacks it, each issuer runs every task itself.
   */
  claimLease?(name: string, holder: string, now: number, ttl: number): Promise<boolean>;

  /**
   * The validation queue, for rules that validate content (`validate`). Optional: an issuer whose
   * rules validate refuses to start on a store without it.
   */
  readonly validations?: ValidationQueue;

  close(): Promise<void>;
}

/** Which part of a listing {@link RecordStore.listObjects} returns. */
export interface ObjectPage {
  prefix?: string;
  after?: string;
  limit?: number;
}
