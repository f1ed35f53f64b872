// Quotas hold for unfinished resumable uploads: storage keeps one for the upload lifetime,
// whether or not its keys are renewed, so its reservation lasts as long (issue 14, point 1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testKey } from '../../test/helpers/keys.js';
import { createIssuer } from './issuer.js';

const KIB = 1024;

async function clocked() {
  let now = Date.parse('2026-11-29T10:00:00Z');
  const issuer = await createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    storageUrl: 'http://127.0.0.1:9',
    storageSecret: 's'.repeat(43),
    authenticate: () => 'alice',
    now: () => now,
    rules: { upload: { op: 'put', prefix: 'users/{subject}/', ttl: 3 } },
    quota: { maxBytes: 1024 * KIB },
  });
  return { issuer, advance: (ms: number) => (now += ms) };
}

describe('quota and unfinished resumable uploads', () => {
  it('keeps an unfinished resumable upload counted after its key expired, for the upload lifetime', async (t) => {
    const { issuer, advance } = await clocked();
    t.after(() => issuer.close());
    await issuer.mint('alice', { op: 'put', name: 'a.bin', size: 900 * KIB, resumable: true });
    advance(10_000); // the 3 s key is long expired; storage still holds the partial upload
    await assert.rejects(
      issuer.mint('alice', { op: 'put', name: 'b.bin', size: 900 * KIB, resumable: true }),
      { code: 'quota_exceeded' },
    );
    // The refusal says it in numbers: what the upload needs, what is used, what is left.
    await assert.rejects(issuer.mint('alice', { op: 'put', name: 'c.bin', size: 200 * KIB }), {
      code: 'quota_exceeded',
      message:
        'this upload would exceed your storage quota: it needs 200 KiB and you use 900 KiB of your ' +
        '1 MiB (124 KiB left); delete objects to make room',
    });
    // Continuing the same object is no second object: its own retry fits.
    await issuer.mint('alice', { op: 'put', name: 'a.bin', size: 900 * KIB, resumable: true });
    // Once storage has dropped it (the upload lifetime, 24 h by default), the room is back.
    advance(24 * 3600_000);
    await issuer.mint('alice', { op: 'put', name: 'b.bin', size: 900 * KIB, resumable: true });
  });

  it('lets a single-request key reserve only while it is valid', async (t) => {
    const { issuer, advance } = await clocked();
    t.after(() => issuer.close());
    await issuer.mint('alice', { op: 'put', name: 'a.bin', size: 900 * KIB });
    advance(10_000);
    await issuer.mint('alice', { op: 'put', name: 'b.bin', size: 900 * KIB });
  });
});
