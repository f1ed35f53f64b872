import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { limitsOfClaims, sizeRange, sizeRefusal, typeRefusal } from './limits.js';

const MiB = 1024 * 1024;

describe('upload limits', () => {
  it('takes the tighter of an exact size and a range', () => {
    assert.deepEqual(sizeRange({ size: 10, maxSize: 8 }), { max: 8, min: 10 });
    assert.deepEqual(sizeRange({ size: 10, minSize: 12, maxSize: 20 }), { max: 10, min: 12 });
    assert.deepEqual(sizeRange({ maxSize: 5 }), { max: 5, min: undefined });
    assert.deepEqual(sizeRange({}), { max: undefined, min: undefined });
  });

  it('refuses a size past either end in words, with the limit in readable units', () => {
    const limits = { maxSize: MiB, minSize: 10 };
    const large = sizeRefusal(limits, 2 * MiB, 'the file (2 MiB)');
    assert.equal(large?.code, 'entity_too_large');
    assert.equal(large?.message, 'the file (2 MiB) is larger than the 1 MiB limit');
    const small = sizeRefusal(limits, 3, 'the body');
    assert.equal(small?.code, 'entity_too_small');
    assert.equal(small?.message, 'the body is smaller than the 10 bytes minimum');
    assert.equal(sizeRefusal(limits, 100, 'it'), undefined);
    assert.equal(sizeRefusal(limits, MiB, 'it'), undefined, 'the limits themselves are allowed');
  });

  it('says an exact size as such, with its code by direction', () => {
    const exact = limitsOfClaims({ size: 5 });
    assert.equal(sizeRefusal(exact, 7, 'it')?.message, 'it is not the 5 bytes the key allows');
    assert.equal(sizeRefusal(exact, 7, 'it')?.code, 'entity_too_large');
    assert.equal(sizeRefusal(exact, 3, 'it')?.code, 'entity_too_small');
    assert.equal(sizeRefusal(exact, 5, 'it'), undefined);
  });

  it('refuses a type outside the allowed ones, a missing type too, naming what is allowed', () => {
    const limits = limitsOfClaims({ content_types: ['image/*', 'text/plain'] });
    assert.equal(typeRefusal(limits, 'image/png'), undefined);
    assert.equal(typeRefusal(limits, 'Text/Plain; charset=utf-8'), undefined);
    const html = typeRefusal(limits, 'text/html');
    assert.equal(html?.code, 'unsupported_media_type');
    assert.equal(html?.message, 'text/html is not allowed here; allowed: image/*, text/plain');
    assert.match(typeRefusal(limits, undefined)?.message ?? '', /^a file without a type is not allowed here/);
    assert.match(
      typeRefusal(limits, 'text/html', 'its type')?.message ?? '',
      /^its type is not allowed here/,
    );
    assert.equal(typeRefusal({}, 'anything/at-all'), undefined);
  });
});
