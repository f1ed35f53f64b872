import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as jose from 'jose';
import { testKey } from '../../test/helpers/keys.js';
import { VALET_KEY_ALG, VALET_KEY_TYP, type ValetClaims, valetClaimsSchema } from './claims.js';
import { ed25519Backend, signEd25519, verifyEd25519, verifyJwsEd25519 } from './ed25519.js';
import { isValetError, ValetError } from './errors.js';
import { type KeyResolver, publicJwk, TrustedKeys } from './keys.js';
import { verifyValetKey } from './verify.js';

// The verifier checks signatures with node:crypto and the claims itself (issue 16). This suite
// holds it to the verdicts of the verifier it replaced, jose's `jwtVerify` over WebCrypto with the
// same valet rules (`oracle` below, the earlier code kept as it was), over generated tokens that
// vary every header parameter and registered claim the rules look at, and the signature.
const NOW = 1_800_000_000_000;
const SKEW = 60;
const MAX_LIFETIME = 3600;
const RUNS = Number(process.env.VALET_EQUIVALENCE_RUNS ?? 600);

async function oracle(token: string, keys: KeyResolver): Promise<ValetClaims> {
  let payload: jose.JWTPayload;
  try {
    ({ payload } = await jose.jwtVerify(
      token,
      async (header) => {
        if (header.alg !== VALET_KEY_ALG) throw new ValetError('token_invalid', 'alg');
        if (header.typ !== VALET_KEY_TYP) throw new ValetError('token_invalid', 'typ');
        for (const name of ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256']) {
          if (name in header) throw new ValetError('token_invalid', 'key reference');
        }
        if (typeof header.kid !== 'string') throw new ValetError('token_invalid', 'kid');
        const key = await keys.get(header.kid);
        if (!key) throw new ValetError('token_invalid', 'unknown kid');
        return key;
      },
      {
        algorithms: [VALET_KEY_ALG],
        currentDate: new Date(NOW),
        clockTolerance: SKEW,
        requiredClaims: ['exp', 'nbf', 'iat', 'jti', 'sub'],
      },
    ));
  } catch (error) {
    if (error instanceof ValetError) throw error;
    if (error instanceof jose.errors.JWTExpired) throw new ValetError('token_expired', 'expired');
    if (error instanceof jose.errors.JWTClaimValidationFailed && error.claim === 'nbf') {
      throw new ValetError('token_not_yet_valid', 'nbf');
    }
    throw new ValetError('token_invalid', 'invalid');
  }
  const parsed = valetClaimsSchema.safeParse(payload);
  if (!parsed.success) throw new ValetError('token_invalid', 'claims');
  const claims = parsed.data;
  if (claims.iat > NOW / 1000 + SKEW) throw new ValetError('token_not_yet_valid', 'iat');
  if (claims.exp - Math.min(claims.iat, claims.nbf) > MAX_LIFETIME) {
    throw new ValetError('token_lifetime_too_long', 'lifetime');
  }
  return claims;
}

type Verdict = { ok: ValetClaims } | { error: string };

async function verdict(run: () => Promise<ValetClaims>): Promise<Verdict> {
  try {
    return { ok: await run() };
  } catch (error) {
    if (!isValetError(error)) throw error;
    return { error: error.code };
  }
}

const absent = Symbol('absent');
const t = Math.floor(NOW / 1000);

/** Mostly the valid value, sometimes one of the variants: most tokens differ in one or two places. */
function field(valid: unknown, ...variants: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 14, arbitrary: fc.constant(valid) },
    { weight: 1, arbitrary: fc.constantFrom(...variants) },
  );
}

/** A time claim: valid, at or across a boundary the rules draw (skew, lifetime), or malformed. */
function time(valid: number, ...boundaries: number[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant(valid) },
    { weight: 2, arbitrary: fc.constantFrom(...boundaries) },
    { weight: 1, arbitrary: fc.integer({ min: t - 2 * MAX_LIFETIME, max: t + 2 * MAX_LIFETIME }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(absent, '1800000000', null, valid + 0.5, -1, 2 ** 41) },
  );
}

const headerArb = fc.record({
  alg: field('EdDSA', 'HS256', 'none', 'ES256', absent),
  typ: field(VALET_KEY_TYP, 'JWT', 'VALET-KEY+JWT', absent),
  kid: field('trusted', 'unknown', 7, absent),
  crit: field(absent, ['b64'], ['b64', 'b64'], ['exp'], [], 'b64', ['']),
  b64: field(absent, true, false, 'true'),
  reference: field(absent, 'jku', 'jwk', 'x5c'),
});

const claimsArb = fc.record({
  op: field('put', 'get', 'head', 'delete', 'post', absent),
  obj: field('users/a/b.txt', 'a/../b', absent, 5),
  sub: field('alice', '', absent),
  jti: field('abcdefghijklmnop', 'short', absent),
  iat: time(t - 10, t + SKEW, t + SKEW + 1, t - MAX_LIFETIME),
  nbf: time(t - 10, t + SKEW, t + SKEW + 1, t + 100),
  exp: time(t + 290, t - SKEW, t - SKEW + 1, t + MAX_LIFETIME - 10, t + MAX_LIFETIME - 9),
  max_size: field(absent, 10, -1, 'x'),
  extra: field(absent, 'ip'),
});

const signatureArb = field('valid', 'flipped', 'other key', 'short') as fc.Arbitrary<string>;

function without(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== absent));
}

describe('verifyValetKey gives the verdicts of the jose verifier it replaced', async () => {
  const key = await testKey();
  const other = await testKey();
  const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
  const b64 = (value: unknown) => jose.base64url.encode(JSON.stringify(value));

  async function tokenFor(
    h: Record<string, unknown>,
    c: Record<string, unknown>,
    signature: string,
  ): Promise<string> {
    const { reference, ...fields } = h;
    const header = without({
      ...fields,
      kid: fields.kid === 'trusted' ? key.jwk.kid : fields.kid,
      ...(reference !== absent && { [reference as string]: 'https://attacker.example/k' }),
    });
    const { extra, ...claims } = c;
    const payload = without({ ...claims, ...(extra !== absent && { [extra as string]: '1.2.3.4' }) });
    const input = `${b64(header)}.${b64(payload)}`;
    const signer = signature === 'other key' ? other : key;
    const bytes = new Uint8Array(
      await signEd25519(signer.signing.privateKey, new TextEncoder().encode(input)),
    );
    if (signature === 'flipped') bytes[10] = (bytes[10] as number) ^ 1;
    const sig = signature === 'short' ? bytes.subarray(0, 63) : bytes;
    return `${input}.${jose.base64url.encode(sig)}`;
  }

  it(`agrees on ${RUNS} generated tokens (backend: ${ed25519Backend})`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(headerArb, claimsArb, signatureArb, async (h, c, signature) => {
        const token = await tokenFor(h, c, signature);
        const expected = await verdict(() => oracle(token, keys));
        const actual = await verdict(() =>
          verifyValetKey(token, { keys, now: () => NOW, clockSkew: SKEW, maxLifetime: MAX_LIFETIME }),
        );
        // One deliberate change: jose reports a missing or non-numeric `nbf` as a failed `nbf`
        // check, which read as token_not_yet_valid; it is now token_invalid, like every other
        // malformed claim.
        const nbf = c.nbf;
        const malformedNbf = nbf === absent || typeof nbf !== 'number';
        if ('error' in expected && expected.error === 'token_not_yet_valid' && malformedNbf) {
          expected.error = 'token_invalid';
        }
        const key = 'ok' in actual ? 'ok' : actual.error;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        assert.deepEqual(actual, expected, token);
      }),
      { numRuns: RUNS, seed: 16 },
    );
    // The generator reaches every verdict, so the agreement means something for each.
    for (const code of [
      'ok',
      'token_invalid',
      'token_expired',
      'token_not_yet_valid',
      'token_lifetime_too_long',
    ]) {
      assert.ok((seen.get(code) ?? 0) > 0, `no case reached ${code}: ${JSON.stringify([...seen])}`);
    }
  });

  it('node:crypto and WebCrypto sign the same bytes and agree on every signature', async () => {
    const data = new TextEncoder().encode('valet');
    for (let i = 0; i < 20; i++) {
      const message = globalThis.crypto.getRandomValues(new Uint8Array(1 + i * 13));
      const fast = new Uint8Array(await signEd25519(key.signing.privateKey, message));
      const web = new Uint8Array(await signEd25519(key.signing.privateKey, message, true));
      assert.deepEqual(fast, web);
      const publicKey = await keys.get(key.jwk.kid);
      assert.ok(publicKey);
      assert.equal(await verifyEd25519(publicKey, message, fast), true);
      assert.equal(await verifyEd25519(publicKey, message, fast, true), true);
      fast[i % 64] = (fast[i % 64] as number) ^ 0x80;
      assert.equal(await verifyEd25519(publicKey, message, fast), false);
      assert.equal(await verifyEd25519(publicKey, message, fast, true), false);
      assert.equal(await verifyEd25519(publicKey, data, web), false);
    }
  });

  it('checks a JWS signature the same way on node:crypto and on WebCrypto', async () => {
    const publicKey = await keys.get(key.jwk.kid);
    assert.ok(publicKey);
    for (const signature of ['valid', 'flipped', 'other key', 'short']) {
      const token = await tokenFor(
        { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: 'trusted' },
        { op: 'get' },
        signature,
      );
      const dot = token.lastIndexOf('.');
      const input = token.slice(0, dot);
      const sig = token.slice(dot + 1);
      const expected = signature === 'valid';
      assert.equal(await verifyJwsEd25519(publicKey, input, sig), expected, signature);
      assert.equal(await verifyJwsEd25519(publicKey, input, sig, true), expected, signature);
    }
  });
});
