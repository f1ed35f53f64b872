// Ed25519 public keys unfit to verify with: the eight small-order points and non-canonical
// encodings are refused when a key set is loaded (issue 14, point 13).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import * as jose from 'jose';
import { publicKeyProblem } from './ed25519-point.js';
import { TrustedKeys } from './keys.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const F = 'ff'.repeat(30);

// The small-order points (libsodium's list, each checked here by 8·P = identity) and the
// non-canonical encodings of low-order points.
const SMALL_ORDER = [
  `01${'00'.repeat(31)}`, // the identity (order 1)
  `${'00'.repeat(32)}`, // order 4
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  `ec${F}7f`, // p - 1 (order 2)
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8, other sign
];
const NON_CANONICAL = [`ed${F}7f`, `ee${F}7f`, `01${'00'.repeat(30)}80`];

describe('Ed25519 public key checks', () => {
  it('refuses the small-order points and non-canonical encodings', () => {
    for (const h of SMALL_ORDER) assert.match(publicKeyProblem(hex(h)) ?? '', /small-order/, h);
    for (const h of NON_CANONICAL) assert.match(publicKeyProblem(hex(h)) ?? '', /not canonically encoded/, h);
    assert.match(publicKeyProblem(hex(`02${'00'.repeat(31)}`)) ?? '', /not a point on the curve/);
  });

  it('accepts real keys', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey } = generateKeyPairSync('ed25519');
      const x = publicKey.export({ format: 'jwk' }).x as string;
      assert.equal(publicKeyProblem(jose.base64url.decode(x)), undefined);
    }
  });

  it('refuses such a key in a trusted key set, with the reason', async () => {
    for (const h of [...SMALL_ORDER, ...NON_CANONICAL]) {
      const jwk = { kty: 'OKP', crv: 'Ed25519', x: jose.base64url.encode(hex(h)), kid: 'bad' };
      await assert.rejects(TrustedKeys.fromJwks({ keys: [jwk] }), (e: Error & { code?: string }) => {
        return e.code === 'invalid_options' && /kid bad\): the key is/.test(e.message);
      });
    }
  });
});
