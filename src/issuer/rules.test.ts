import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isValetError } from '../token/errors.js';
import { keyInPrefix, rulePrefix, subjectSegment, uploadKey } from './rules.js';

const ctx = (subject: string) => ({ identity: { subject, claims: {} }, request: undefined });

describe('rules: object keys', () => {
  it('builds the prefix from the subject as one safe segment', () => {
    assert.equal(rulePrefix({ op: 'put', prefix: 'users/{subject}/' }, ctx('alice')), 'users/alice/');
    assert.equal(rulePrefix({ op: 'put', prefix: 'users/{subject}/' }, ctx('../bob')), 'users/..%2Fbob/');
    assert.equal(rulePrefix({ op: 'put', prefix: 'users/{subject}/' }, ctx('..')), 'users/%2E%2E/');
    assert.equal(rulePrefix({ op: 'put', prefix: 'users/{subject}/' }, ctx('a/b')), 'users/a%2Fb/');
    assert.equal(rulePrefix({ op: 'put' }, ctx('alice')), '');
    assert.equal(subjectSegment('.'), '%2E');
  });

  it('refuses upload names that are absolute or climb out, instead of rewriting them', () => {
    for (const name of ['/x', '../x', 'a/../../x', './x', 'a//b', 'a\\b', '', 'a/']) {
      assert.throws(
        () => uploadKey('users/alice/', name),
        (e) => isValetError(e, 'invalid_object_key'),
        name,
      );
    }
    assert.equal(uploadKey('users/alice/', 'cafe\u0301/a.txt'), 'users/alice/café/a.txt');
  });

  it('confines every accepted name to the prefix (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.string({ maxLength: 12 }),
        (name, subject) => {
          const prefix =
            subject === '' ? 'users/x/' : rulePrefix({ op: 'put', prefix: 'users/{subject}/' }, ctx(subject));
          let key: string;
          try {
            key = uploadKey(prefix, name);
          } catch (error) {
            return isValetError(error, 'invalid_object_key');
          }
          return (
            key.startsWith(prefix) &&
            key.length > prefix.length &&
            !key.split('/').some((s) => s === '..' || s === '.')
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts a requested key only inside the prefix', () => {
    assert.equal(keyInPrefix('users/alice/', 'users/alice/a.txt'), 'users/alice/a.txt');
    assert.equal(keyInPrefix('users/alice/', 'users/alice'), undefined);
    assert.equal(keyInPrefix('users/alice/', 'users/alice/'.slice(0, -1)), undefined);
    assert.equal(keyInPrefix('users/alice/', 'users/alicex/a.txt'), undefined);
    assert.equal(keyInPrefix('users/alice/', 'users/bob/a.txt'), undefined);
    assert.throws(
      () => keyInPrefix('users/alice/', 'users/alice/../bob/a'),
      (e) => isValetError(e, 'invalid_object_key'),
    );
  });
});
