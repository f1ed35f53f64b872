import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isValetError } from './errors.js';
import { importSigningKey, TrustedKeys } from './keys.js';
import { type MintOptions, mintValetKey } from './mint.js';
import { verifyValetKey } from './verify.js';

// Known-answer vectors (test/fixtures/token-vectors.json, made by scripts/make-token-vectors.ts).
// Ed25519 signatures are deterministic, so minting the same inputs must give the same bytes.
const fixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/token-vectors.json', import.meta.url), 'utf8'),
);

interface Vector {
  name: string;
  token: string;
  mint?: Omit<MintOptions, 'now'>;
  mintedAt?: number;
  expect: { ok: Record<string, unknown> } | { error: string };
}

describe('known-answer vectors', async () => {
  const keys = await TrustedKeys.fromJwks(fixture.trustedKeys);
  const signing = await importSigningKey(fixture.signingKey);
  const vectors = fixture.vectors as Vector[];

  it('covers valid keys and every kind of refusal', () => {
    const verdicts = new Set(vectors.map((v) => ('ok' in v.expect ? 'ok' : v.expect.error)));
    for (const code of [
      'ok',
      'token_invalid',
      'token_expired',
      'token_not_yet_valid',
      'token_lifetime_too_long',
    ]) {
      assert.ok(verdicts.has(code), code);
    }
  });

  for (const vector of vectors) {
    it(`verdict: ${vector.name}`, async () => {
      const verdict = verifyValetKey(vector.token, {
        keys,
        now: () => fixture.now,
        clockSkew: fixture.clockSkew,
        maxLifetime: fixture.maxLifetime,
      });
      if ('ok' in vector.expect) assert.deepEqual(await verdict, vector.expect.ok);
      else {
        const code = vector.expect.error;
        await assert.rejects(verdict, (e) => isValetError(e) && e.code === code);
      }
    });
    const { mint, mintedAt } = vector;
    if (mint && mintedAt !== undefined) {
      it(`mints byte-identical: ${vector.name}`, async () => {
        assert.equal(await mintValetKey(signing, { ...mint, now: () => mintedAt }), vector.token);
      });
    }
  }
});
