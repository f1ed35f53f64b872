import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testKey } from '../../../test/helpers/keys.js';
import { publicJwk, TrustedKeys } from '../../token/keys.js';
import { verifyValetKeyWithKey } from '../../token/verify.js';
import { VerifiedKeys } from './verified-keys.js';

const T0 = 1_800_000_000;

async function setup(ttl = 60) {
  const key = await testKey();
  const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
  const token = await key.mint({ op: 'get', object: 'a', ttl, now: () => T0 * 1000 });
  const verified = await verifyValetKeyWithKey(token, { keys, now: () => T0 * 1000 });
  return { key, keys, token, verified };
}

describe('VerifiedKeys', () => {
  it('recalls a verified token while it is valid', async () => {
    const { keys, token, verified } = await setup();
    const cache = new VerifiedKeys();
    assert.equal(cache.get(token, keys, T0, 60), undefined);
    cache.set(token, verified.claims, verified.kid, verified.key);
    assert.deepEqual(cache.get(token, keys, T0 + 30, 60)?.claims, verified.claims);
    assert.equal(cache.get(`${token}x`, keys, T0 + 30, 60), undefined, 'only the exact string');
  });

  it('forgets a token once it expires, allowing the skew', async () => {
    const { keys, token, verified } = await setup(60);
    const cache = new VerifiedKeys();
    cache.set(token, verified.claims, verified.kid, verified.key);
    assert.ok(cache.get(token, keys, T0 + 60 + 59, 60));
    assert.equal(cache.get(token, keys, T0 + 60 + 60, 60), undefined);
    assert.equal(cache.size, 0);
  });

  it('forgets a token whose signing key was retired or replaced', async () => {
    const { key, token, verified } = await setup();
    const cache = new VerifiedKeys();
    cache.set(token, verified.claims, verified.kid, verified.key);
    const other = await testKey();
    const retired = await TrustedKeys.fromJwks({ keys: [publicJwk(other.jwk)] });
    assert.equal(cache.get(token, retired, T0, 60), undefined);
    cache.set(token, verified.claims, verified.kid, verified.key);
    // Same kid, but a different key object (a reloaded set): verify again, do not trust the memory.
    const reloaded = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
    assert.equal(cache.get(token, reloaded, T0, 60), undefined);
  });

  it('does not answer for a token that is not valid yet', async () => {
    const key = await testKey();
    const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
    const token = await key.mint({ op: 'get', object: 'a', notBefore: 300, now: () => T0 * 1000 });
    const v = await verifyValetKeyWithKey(token, { keys, now: () => (T0 + 300) * 1000 });
    const cache = new VerifiedKeys();
    cache.set(token, v.claims, v.kid, v.key);
    assert.equal(cache.get(token, keys, T0, 60), undefined);
    assert.ok(cache.get(token, keys, T0 + 300, 60));
  });

  it('holds at most its maximum, evicting the oldest', async () => {
    const { keys, verified } = await setup();
    const cache = new VerifiedKeys(3);
    for (const t of ['a', 'b', 'c', 'd']) cache.set(t, verified.claims, verified.kid, verified.key);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('a', keys, T0, 60), undefined);
    assert.ok(cache.get('d', keys, T0, 60));
  });
});
