/**
 * The validation queue: uploads whose rule validates their content before anyone may read them,
 * kept in the record store so that they survive a restart and run once across replicas.
 *
 * A row is made by the same transaction that records the upload (`recordEvent`, when its key
 * said `hold`): its object is then listed to its owner as pending, and nobody gets a read key or a
 * share link for it. An issuer claims a due row with a lease (renewed while it works), runs the
 * rule's validators, and finishes it: `published` (the object is readable), or `rejected` in two
 * steps (`rejecting` with its reason first, then removed from the store and `rejected`), so that a
 * crash between leaves a row the next claim finishes, never an object nobody removes.
 */

/** Where one validation stands. */
export type ValidationStatus = 'pending' | 'rejecting' | 'published' | 'rejected' | 'replaced';

/** One upload's validation. */
export interface ValidationRecord {
  /** The key id that made the version (its upload's id): what the client asks about. */
  id: string;
  object: string;
  /** The version being validated. */
  etag: string;
  owner: string;
  /** The rule the upload was made under (its validators). */
  rule: string;
  status: ValidationStatus;
  /** rejecting, rejected: why, in words for the uploader. */
  reason: string | null;
  /** How many runs ended without a verdict (a scanner down, a timeout). */
  attempts: number;
  /** pending: when it may run next, ms. */
  dueAt: number;
  /** The last run's problem, for operators (never shown to the uploader). */
  lastError: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** How the queue stands, for readiness and metrics. */
export interface ValidationBacklog {
  /** Validations waiting or running. */
  pending: number;
  /** When the oldest of them was queued, ms (undefined: none). */
  oldestCreatedAt: number | undefined;
  /** How many have been retried at least once. */
  retrying: number;
}

/**
 * The record store's validation queue (see the module comment). Every method is atomic.
 */
export interface ValidationQueue {
  /**
   * Claims the next due validation for `holder` until `now + ttl` ms: a `pending` or `rejecting`
   * row due at or before `now` whose lease is free or lapsed (its holder died). Undefined: none.
   */
  claim(holder: string, now: number, ttl: number): Promise<ValidationRecord | undefined>;
  /** Extends `holder`'s lease of `id` until `until`; false if the lease is no longer its. */
  renew(id: string, holder: string, until: number): Promise<boolean>;
  /** A run without a verdict: frees the lease, counts the attempt, runs again at `dueAt`. */
  retry(id: string, holder: string, dueAt: number, error: string): Promise<void>;
  /** A rejection's first step: the reason is kept, the object no longer listed (not yet removed). */
  reject(id: string, holder: string, reason: string, now: number): Promise<void>;
  /**
   * Ends a validation: `published` (the registry row of its version loses its pending mark) or
   * `rejected` (the row of its version goes: no longer listed nor counted), or `replaced` (a newer
   * version or a deletion came first). False if it had ended already.
   */
  finish(id: string, status: 'published' | 'rejected' | 'replaced', now: number): Promise<boolean>;
  /** A validation by the key id that made its version. */
  get(id: string): Promise<ValidationRecord | undefined>;
  backlog(): Promise<ValidationBacklog>;
}
