import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { testKey } from '../../test/helpers/keys.js';
import { isValetError } from '../token/errors.js';
import { createIssuer, type Issuer } from './issuer.js';
import {
  DEFAULT_REVOCATION_STALENESS,
  keyInPrefix,
  type Rule,
  rulePrefix,
  subjectSegment,
  uploadKey,
} from './rules.js';

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

describe('rules: how long a revocation may take', () => {
  const issuerWith = async (rules: Record<string, Rule>) =>
    createIssuer({
      signingKeys: [(await testKey()).jwk],
      database: ':memory:',
      storageUrl: 'http://127.0.0.1:9',
      storageSecret: 's'.repeat(43),
      authenticate: () => 'alice',
      rules,
    });
  const rev = async (issuer: Issuer, rule: string) => {
    const { url } = await issuer.mint('alice', { op: 'get', key: 'a.txt', rule });
    const token = new URL(url).searchParams.get('vk') ?? '';
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).rev;
  };

  it('signs each rule’s bound into its keys: 10 minutes by default, its own, or none when strict', async (t) => {
    const issuer = await issuerWith({
      plain: { op: 'get' },
      own: { op: 'get', revocation: 30 },
      strict: { op: 'get', revocation: 'strict' },
    });
    t.after(() => issuer.close());
    assert.equal(await rev(issuer, 'plain'), DEFAULT_REVOCATION_STALENESS);
    assert.equal(DEFAULT_REVOCATION_STALENESS, 600);
    assert.equal(await rev(issuer, 'own'), 30);
    assert.equal(await rev(issuer, 'strict'), undefined);
  });

  it('refuses a bound that is not strict or a whole number of seconds', async () => {
    for (const revocation of [0, -1, 1.5, 'lax', 8 * 86400]) {
      await assert.rejects(
        issuerWith({ r: { op: 'get', revocation } as unknown as Rule }),
        (e) => isValetError(e, 'invalid_options') && /revocation/.test(e.message),
        String(revocation),
      );
    }
  });
});
