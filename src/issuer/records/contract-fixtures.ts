// What the record store contract's cases share: a clock, and grants and events to record.
import type { EventRecord, GrantRecord, RecordStore } from './records.js';

/** The contract's clock, ms. */
export const T0 = 1_800_000_000_000;
let seq = 0;

/** A grant for `object` (alice's upload unless `overrides` say otherwise), with a fresh id. */
export function grant(
  object: string,
  reservedBytes: number,
  overrides: Partial<GrantRecord> = {},
): GrantRecord {
  seq++;
  return {
    id: `grant-${String(seq).padStart(12, '0')}`,
    subject: 'alice',
    op: 'put',
    object,
    rule: 'upload',
    constraints: {},
    issuedAt: T0,
    expiresAt: T0 + 300_000,
    kid: 'kid',
    clientAddress: '127.0.0.1',
    userAgent: 'test',
    shareId: null,
    reservedBytes,
    completedAt: null,
    ...overrides,
  };
}

/** Storage's event that `g`'s upload landed, `size` bytes. */
export function created(g: GrantRecord, size: number, id = `evt-${g.id}`): EventRecord {
  return {
    id,
    type: 'object.created',
    object: g.object,
    keyId: g.id,
    subject: g.subject,
    size,
    contentType: 'text/plain',
    sha256: 'a'.repeat(64),
    etag: `"${'a'.repeat(64)}"`,
    time: new Date(T0).toISOString(),
    receivedAt: T0 + 1000,
  };
}

/** Opens an empty store. */
export type Open = () => RecordStore | Promise<RecordStore>;
