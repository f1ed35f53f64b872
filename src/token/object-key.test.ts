import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isValetError } from './errors.js';
import {
  decodeObjectKeyPath,
  encodeObjectKeyPath,
  MAX_OBJECT_KEY_BYTES,
  MAX_SEGMENT_BYTES,
  normalizeObjectKey,
  utf8Length,
} from './object-key.js';

function refuses(key: string): void {
  assert.throws(
    () => normalizeObjectKey(key),
    (e) => isValetError(e, 'invalid_object_key'),
    JSON.stringify(key),
  );
}

describe('object keys', () => {
  it('accepts ordinary paths unchanged', () => {
    for (const key of [
      'a',
      'users/alice/photo.png',
      'x/y/z/..a',
      'a/.hidden',
      'résumé.pdf',
      'a b/c+d',
      '%2e%2e',
    ]) {
      assert.equal(normalizeObjectKey(key), key);
    }
  });

  it('normalises to NFC', () => {
    assert.equal(normalizeObjectKey('cafe\u0301'), 'caf\u00e9');
  });

  it('refuses empty, dot and dot-dot segments', () => {
    for (const key of ['', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', '../etc/passwd', 'a/..'])
      refuses(key);
  });

  it('refuses control characters, backslashes and lone surrogates', () => {
    for (const key of ['a\u0000b', 'a\nb', 'a\u007fb', 'a\u0085b', 'a\\b', '..\\x', 'a\ud800b', 'a\udc00'])
      refuses(key);
  });

  it('refuses keys over 1024 bytes and segments over 255 bytes, counted in UTF-8', () => {
    assert.equal(normalizeObjectKey('a'.repeat(255)).length, 255);
    refuses('a'.repeat(256));
    refuses('é'.repeat(128)); // 256 bytes
    const long = Array.from({ length: 5 }, () => 'b'.repeat(200)).join('/'); // 1004 bytes
    assert.equal(normalizeObjectKey(long), long);
    refuses(`${long}/${'c'.repeat(20)}`);
    assert.equal(MAX_OBJECT_KEY_BYTES, 1024);
    assert.equal(MAX_SEGMENT_BYTES, 255);
  });

  it('counts UTF-8 bytes like Buffer does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'));
      }),
    );
  });

  it('decodes a URL path exactly once', () => {
    assert.equal(decodeObjectKeyPath('a%2Fb'), 'a/b');
    assert.equal(decodeObjectKeyPath('%252e%252e'), '%2e%2e');
    assert.throws(
      () => decodeObjectKeyPath('%2e%2e'),
      (e) => isValetError(e, 'invalid_object_key'),
    );
    assert.throws(
      () => decodeObjectKeyPath('a/%2e'),
      (e) => isValetError(e, 'invalid_object_key'),
    );
    assert.throws(
      () => decodeObjectKeyPath('%E0%A4%A'),
      (e) => isValetError(e, 'invalid_object_key'),
    );
    assert.throws(
      () => decodeObjectKeyPath('%ff'),
      (e) => isValetError(e, 'invalid_object_key'),
    );
  });

  it('has a canonical form that is stable and survives URL encoding (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (input) => {
        let key: string;
        try {
          key = normalizeObjectKey(input);
        } catch (error) {
          assert.ok(isValetError(error, 'invalid_object_key'));
          return;
        }
        assert.equal(normalizeObjectKey(key), key);
        assert.equal(decodeObjectKeyPath(encodeObjectKeyPath(key)), key);
        assert.ok(utf8Length(key) <= MAX_OBJECT_KEY_BYTES);
        for (const segment of key.split('/')) {
          assert.ok(segment !== '' && segment !== '.' && segment !== '..');
          assert.ok(utf8Length(segment) <= MAX_SEGMENT_BYTES);
        }
        assert.ok(!/[\p{Cc}\\]/u.test(key));
      }),
      { numRuns: 2000 },
    );
  });
});
