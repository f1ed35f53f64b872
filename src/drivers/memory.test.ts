import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildClaims } from '../token/mint.js';
import { driverContract } from './contract.js';
import { MemoryDriver } from './memory.js';

driverContract('in-memory store', async () => {
  const driver = new MemoryDriver();
  return { driver, send: driver.fetch };
});

describe('in-memory store', () => {
  it('checks expiry by its own clock, and leaves unchecked constraints to the issuer', async () => {
    let now = 1_800_000_000_000;
    const memory = new MemoryDriver({ now: () => now, unchecked: ['size', 'once'] });
    assert.equal(memory.enforcement().size, 'issuer');
    assert.equal(memory.enforcement().once, 'none');
    const claims = buildClaims({ op: 'put', object: 'a/b', subject: 's', ttl: 60, size: 3, now: () => now });
    const signed = await memory.sign(claims, {
      now,
      objectType: async () => undefined,
      valetKey: () => Promise.reject(new Error('not asked')),
    });
    const put = (body: string) => memory.fetch(new Request(signed.url, { method: 'PUT', body }));
    assert.equal((await put('four')).status, 200, 'size is not checked by this store');
    now += 61_000;
    const late = await put('abc');
    assert.equal(late.status, 403);
    assert.equal(((await late.json()) as { error: { code: string } }).error.code, 'token_expired');
  });
});
