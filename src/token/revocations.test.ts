import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ValetClaims } from './claims.js';
import { RevocationIndex } from './revocations.js';

describe('RevocationIndex', () => {
  const claims: ValetClaims = {
    op: 'get',
    obj: 'a/b',
    sub: 'alice',
    jti: 'key-id-0000000000',
    iat: 1000,
    nbf: 1000,
    exp: 1300,
  };

  it('revokes by key id, by signing key, and by subject for keys issued at or before the cut-off', () => {
    assert.equal(new RevocationIndex().reason(claims, 'kid1'), undefined);
    const index = new RevocationIndex({
      keys: [{ jti: 'key-id-0000000000', exp: 2000 }],
      subjects: [],
      signing_keys: [],
    });
    assert.equal(index.reason(claims, 'kid1'), 'key');
    assert.equal(index.reason({ ...claims, jti: 'another-key-000000' }, 'kid1'), undefined);
    const bySigner = new RevocationIndex({ keys: [], subjects: [], signing_keys: ['kid1'] });
    assert.equal(bySigner.reason(claims, 'kid1'), 'signing_key');
    assert.equal(bySigner.reason(claims, 'kid2'), undefined);
    const bySubject = new RevocationIndex({
      keys: [],
      subjects: [
        { sub: 'alice', before: 999 },
        { sub: 'alice', before: 1000 },
      ],
      signing_keys: [],
    });
    assert.equal(bySubject.reason(claims, 'kid1'), 'subject');
    assert.equal(bySubject.reason({ ...claims, iat: 1001 }, 'kid1'), undefined);
    assert.equal(bySubject.reason({ ...claims, sub: 'bob' }, 'kid1'), undefined);
  });
});
