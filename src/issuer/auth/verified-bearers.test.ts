import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BEARER_MEMORY_SECONDS, VerifiedBearers } from './verified-bearers.js';

const T = 1_800_000_000;
const identity = (exp: number, iat = T) => ({ subject: 'alice', claims: { sub: 'alice', exp, iat } });

describe('VerifiedBearers', () => {
  it('remembers a verified bearer by its exact text', () => {
    const memory = new VerifiedBearers();
    memory.set('tok', identity(T + 600), T);
    assert.equal(memory.get('tok', T + 1, { tolerance: 30 })?.subject, 'alice');
    assert.equal(memory.get('tok ', T + 1, { tolerance: 30 }), undefined);
    assert.equal(memory.get('other', T + 1, { tolerance: 30 }), undefined);
    assert.equal(memory.hits, 1);
  });

  it('applies expiry with the tolerance, as the full check does', () => {
    const memory = new VerifiedBearers();
    memory.set('tok', identity(T + 10), T);
    assert.ok(memory.get('tok', T + 39, { tolerance: 30 }), 'within the tolerance');
    assert.equal(memory.get('tok', T + 40, { tolerance: 30 }), undefined, 'exp <= now - tolerance');
    assert.equal(memory.size, 0, 'and forgets it');
  });

  it('is used for a minute at most, and not for a token older than maxTokenAge', () => {
    const memory = new VerifiedBearers();
    memory.set('a', identity(T + 3600), T);
    assert.equal(memory.get('a', T + BEARER_MEMORY_SECONDS, { tolerance: 0 }), undefined);
    memory.set('b', identity(T + 3600, T - 100), T);
    assert.ok(memory.get('b', T, { tolerance: 0, maxTokenAge: 100 }));
    assert.equal(memory.get('b', T + 1, { tolerance: 0, maxTokenAge: 100 }), undefined);
  });

  it('does not remember a bearer without exp, stays bounded, and hands out copies', () => {
    const memory = new VerifiedBearers(2);
    memory.set('none', { subject: 'alice', claims: {} }, T);
    assert.equal(memory.size, 0);
    for (const name of ['x', 'y', 'z']) memory.set(name, identity(T + 600), T);
    assert.equal(memory.size, 2);
    assert.equal(memory.get('x', T, { tolerance: 0 }), undefined, 'the oldest went first');
    const first = memory.get('z', T, { tolerance: 0 });
    assert.ok(first);
    first.claims.sub = 'mallory';
    assert.equal(memory.get('z', T, { tolerance: 0 })?.claims.sub, 'alice');
  });
});
