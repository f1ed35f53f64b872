import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as jose from 'jose';
import { b64json, claimsFor, signRaw, testKey } from '../../test/helpers/keys.js';
import { VALET_KEY_TYP } from './claims.js';
import { isValetError } from './errors.js';
import { publicJwk, TrustedKeys } from './keys.js';
import { buildClaims, mintValetKey } from './mint.js';
import { verifyValetKey } from './verify.js';

const T0 = 1_800_000_000_000; // a fixed clock, ms
const at = (seconds: number) => () => T0 + seconds * 1000;

async function setup() {
  const key = await testKey();
  const other = await testKey();
  const trusted = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
  return { key, other, trusted };
}

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e) => isValetError(e) && e.code === code);
}

describe('verifyValetKey', () => {
  it('returns the claims of a valid key', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({
      op: 'put',
      object: 'a/b.txt',
      maxSize: 10,
      contentTypes: ['Text/*'],
      now: at(0),
    });
    const claims = await verifyValetKey(token, { keys: trusted, now: at(1) });
    assert.equal(claims.op, 'put');
    assert.equal(claims.obj, 'a/b.txt');
    assert.equal(claims.max_size, 10);
    assert.deepEqual(claims.content_types, ['text/*']);
    assert.equal(claims.sub, 'tester');
    assert.equal(claims.exp - claims.iat, 300);
  });

  it('puts the kid and the valet typ in the protected header', async () => {
    const { key } = await setup();
    const header = jose.decodeProtectedHeader(await key.mint({ op: 'get', object: 'x', now: at(0) }));
    assert.deepEqual(header, { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: key.jwk.kid });
  });

  it('refuses an expired key, allowing the clock skew', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'x', ttl: 60, now: at(0) });
    await verifyValetKey(token, { keys: trusted, now: at(60 + 59), clockSkew: 60 });
    await refusedWith(
      verifyValetKey(token, { keys: trusted, now: at(60 + 61), clockSkew: 60 }),
      'token_expired',
    );
    await refusedWith(verifyValetKey(token, { keys: trusted, now: at(61), clockSkew: 0 }), 'token_expired');
  });

  it('refuses a key that is not valid yet, allowing the clock skew', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'x', notBefore: 120, now: at(0) });
    await refusedWith(
      verifyValetKey(token, { keys: trusted, now: at(30), clockSkew: 60 }),
      'token_not_yet_valid',
    );
    await verifyValetKey(token, { keys: trusted, now: at(61), clockSkew: 60 });
  });

  it('refuses a key issued in the future', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'x', now: at(600) });
    await refusedWith(
      verifyValetKey(token, { keys: trusted, now: at(0), clockSkew: 60 }),
      'token_not_yet_valid',
    );
  });

  it('refuses a validly signed key that lives longer than the maximum lifetime', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'x', ttl: 3601, now: at(0) });
    await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_lifetime_too_long');
    await verifyValetKey(token, { keys: trusted, now: at(1), maxLifetime: 7200 });
    const short = await key.mint({ op: 'get', object: 'x', ttl: 30, now: at(0) });
    await refusedWith(
      verifyValetKey(short, { keys: trusted, now: at(1), maxLifetime: 10 }),
      'token_lifetime_too_long',
    );
  });

  it('refuses a tampered signature or payload', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'a', now: at(0) });
    const [h, p, s = ''] = token.split('.');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    await refusedWith(verifyValetKey(`${h}.${p}.${flipped}`, { keys: trusted, now: at(1) }), 'token_invalid');
    const otherPayload = b64json({ ...jose.decodeJwt(token), obj: 'b' });
    await refusedWith(
      verifyValetKey(`${h}.${otherPayload}.${s}`, { keys: trusted, now: at(1) }),
      'token_invalid',
    );
  });

  it('accepts a key in one text only: non-zero padding bits in any part are refused', async () => {
    const { key, trusted } = await setup();
    const token = await key.mint({ op: 'get', object: 'a', now: at(0) });
    const parts = token.split('.');
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let variants = 0;
    for (const [i, part] of parts.entries()) {
      // A 64-byte signature is 86 characters: the last one carries 4 padding bits. Setting one of
      // them gives another text for the same bytes.
      if (part.length % 4 === 0) continue;
      const last = B64.indexOf(part[part.length - 1] as string);
      const alias = `${part.slice(0, -1)}${B64[last | 1]}`;
      if (alias === part) continue;
      assert.deepEqual(jose.base64url.decode(alias), jose.base64url.decode(part), 'the same bytes');
      const other = parts.map((p, j) => (j === i ? alias : p)).join('.');
      await refusedWith(verifyValetKey(other, { keys: trusted, now: at(1) }), 'token_invalid');
      variants++;
    }
    assert.ok(variants >= 1, 'the signature at least has padding bits');
    assert.equal((await verifyValetKey(token, { keys: trusted, now: at(1) })).obj, 'a');
  });

  it('refuses alg none', async () => {
    const { key, trusted } = await setup();
    const claims = claimsFor('get', 'a', T0 / 1000);
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64json({ alg, typ: VALET_KEY_TYP, kid: key.jwk.kid })}.${b64json(claims)}.`;
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
  });

  it('refuses an HS256 key whose HMAC secret is the public key', async () => {
    const { key, trusted } = await setup();
    const claims = claimsFor('get', 'a', T0 / 1000);
    const secrets = [
      jose.base64url.decode(key.jwk.x),
      new TextEncoder().encode(JSON.stringify(publicJwk(key.jwk))),
      new TextEncoder().encode(key.jwk.x),
    ];
    for (const secret of secrets) {
      const token = await signRaw({ alg: 'HS256', typ: VALET_KEY_TYP, kid: key.jwk.kid }, claims, secret);
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
  });

  it('refuses a JWT of another type signed by a trusted key (such as an ID token)', async () => {
    const { key, trusted } = await setup();
    const claims = claimsFor('get', 'a', T0 / 1000);
    for (const typ of ['JWT', 'at+jwt', 'valet-key', undefined]) {
      const header = { alg: 'EdDSA', kid: key.jwk.kid, ...(typ ? { typ } : {}) };
      const token = await signRaw(header, claims, key.signing.privateKey);
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
  });

  it('refuses an unknown kid, a missing kid and a key signed by a retired key', async () => {
    const { key, other, trusted } = await setup();
    const claims = claimsFor('get', 'a', T0 / 1000);
    const unknown = await signRaw(
      { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: 'nope' },
      claims,
      key.signing.privateKey,
    );
    await refusedWith(verifyValetKey(unknown, { keys: trusted, now: at(1) }), 'token_invalid');
    const noKid = await signRaw({ alg: 'EdDSA', typ: VALET_KEY_TYP }, claims, key.signing.privateKey);
    await refusedWith(verifyValetKey(noKid, { keys: trusted, now: at(1) }), 'token_invalid');
    const retired = await other.mint({ op: 'get', object: 'a', now: at(0) });
    await refusedWith(verifyValetKey(retired, { keys: trusted, now: at(1) }), 'token_invalid');
    // The other key's kid with this key's signature: the kid decides the key, not the token.
    const wrongKid = await signRaw(
      { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: other.jwk.kid },
      claims,
      key.signing.privateKey,
    );
    const both = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk), publicJwk(other.jwk)] });
    await refusedWith(verifyValetKey(wrongKid, { keys: both, now: at(1) }), 'token_invalid');
  });

  it('never takes the verification key from the token (jwk, jku, x5u, x5c)', async () => {
    const { key, other, trusted } = await setup();
    const claims = claimsFor('get', 'a', T0 / 1000);
    const embedded = [
      { jwk: publicJwk(other.jwk) },
      { jku: 'https://attacker.example/jwks.json' },
      { x5u: 'https://attacker.example/cert.pem' },
      { x5c: ['MIIB'] },
    ];
    for (const extra of embedded) {
      // Signed by the trusted key, so the only reason to refuse is the header parameter itself.
      const token = await signRaw(
        { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: key.jwk.kid, ...extra } as jose.JWTHeaderParameters,
        claims,
        key.signing.privateKey,
      );
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
    // And a token signed by an untrusted key that embeds that key is refused as well.
    const selfSigned = await signRaw(
      { alg: 'EdDSA', typ: VALET_KEY_TYP, jwk: publicJwk(other.jwk) } as jose.JWTHeaderParameters,
      claims,
      other.signing.privateKey,
    );
    await refusedWith(verifyValetKey(selfSigned, { keys: trusted, now: at(1) }), 'token_invalid');
  });

  it('refuses unknown claims, missing claims and constraints on the wrong operation', async () => {
    const { key, trusted } = await setup();
    const base = claimsFor('get', 'a', T0 / 1000);
    const header = { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: key.jwk.kid };
    const variants: jose.JWTPayload[] = [
      { ...base, ip: '1.2.3.4' },
      { ...base, op: 'post' },
      { ...base, op: undefined },
      { ...base, jti: undefined },
      { ...base, sub: undefined },
      { ...base, obj: 'a/../b' },
      { ...base, obj: 'cafe\u0301' },
      { ...base, max_size: 10 },
      { ...base, op: 'put', filename: 'x' },
      { ...base, op: 'put', min_size: 10, max_size: 5 },
      { ...base, op: 'put', sha256: 'XYZ' },
      // exp before nbf: each passes the clock checks within the skew, together they make no sense.
      { ...base, nbf: Number(base.iat) + 30, exp: Number(base.iat) + 20 },
    ];
    for (const claims of variants) {
      const token = await signRaw(header, claims, key.signing.privateKey);
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
  });

  it('refuses malformed token strings without throwing anything else', async () => {
    const { trusted } = await setup();
    for (const token of [
      '',
      'abc',
      'a.b',
      'a.b.c.d',
      'a.b.c',
      '...',
      `${'a'.repeat(9000)}.b.c`,
      'eyJ.eyJ.!!',
    ]) {
      await refusedWith(verifyValetKey(token, { keys: trusted, now: at(1) }), 'token_invalid');
    }
  });
});

describe('mintValetKey', () => {
  it('refuses keys storage would refuse', async () => {
    const { key } = await setup();
    const bad = [
      { op: 'get', object: 'a/../b' },
      { op: 'get', object: 'a', ttl: 0 },
      { op: 'get', object: 'a', ttl: 1.5 },
      { op: 'get', object: 'a', maxSize: 5 },
      { op: 'put', object: 'a', minSize: 6, maxSize: 5 },
      { op: 'put', object: 'a', contentTypes: ['not a type'] },
      { op: 'put', object: 'a', sha256: 'abc' },
      { op: 'delete', object: 'a', filename: 'x' },
      { op: 'get', object: 'a', filename: '../x' },
      { op: 'get', object: 'a', filename: 'x\ud800.pdf' },
    ] as const;
    for (const options of bad) {
      await assert.rejects(
        key.mint(options),
        (e) => isValetError(e, 'invalid_options'),
        JSON.stringify(options),
      );
    }
  });

  it('normalises the object key and gives every key a distinct id', async () => {
    const a = buildClaims({ op: 'get', object: 'cafe\u0301', subject: 's', ttl: 10 });
    const b = buildClaims({ op: 'get', object: 'cafe\u0301', subject: 's', ttl: 10 });
    assert.equal(a.obj, 'caf\u00e9');
    assert.notEqual(a.jti, b.jti);
    assert.match(a.jti, /^[A-Za-z0-9_-]{22}$/);
  });

  it('signs with the key it is given', async () => {
    const { key, trusted } = await setup();
    const token = await mintValetKey(key.signing, {
      op: 'head',
      object: 'x',
      subject: 's',
      ttl: 5,
      now: at(0),
    });
    assert.equal((await verifyValetKey(token, { keys: trusted, now: at(1) })).op, 'head');
  });
});

describe('TrustedKeys', () => {
  it('refuses a set with private key material, duplicate kids or other key types', async () => {
    const { key, other } = await setup();
    const bad = [
      { keys: [key.jwk] },
      { keys: [publicJwk(key.jwk), { ...publicJwk(other.jwk), kid: key.jwk.kid }] },
      { keys: [{ kty: 'RSA', kid: 'r', n: 'AQAB', e: 'AQAB' }] },
      { keys: [{ ...publicJwk(key.jwk), crv: 'Ed448' }] },
      { keys: [] },
      {},
    ];
    for (const set of bad) {
      await assert.rejects(TrustedKeys.fromJwks(set), (e) => isValetError(e, 'invalid_options'));
    }
  });
});
