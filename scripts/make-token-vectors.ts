// Writes test/fixtures/token-vectors.json: known-answer vectors that pin the valet key format.
// Run only when the format changes on purpose: `npx tsx scripts/make-token-vectors.ts`.
// The signing key in the fixture is a test key, published on purpose; never trust it anywhere.
import { readFile, writeFile } from 'node:fs/promises';
import * as jose from 'jose';
import { VALET_KEY_TYP } from '../src/token/claims.js';
import { generateSigningJwk, importSigningKey, publicJwk, TrustedKeys } from '../src/token/keys.js';
import { type MintOptions, mintValetKey } from '../src/token/mint.js';
import { verifyValetKey } from '../src/token/verify.js';

const OUT = new URL('../test/fixtures/token-vectors.json', import.meta.url);
const NOW = 1_800_000_000_000;
const S = NOW / 1000;

// Reuse the existing test keys so that regenerating only changes what changed.
let fixture: { signingKey?: unknown; retiredKey?: unknown } = {};
try {
  fixture = JSON.parse(await readFile(OUT, 'utf8'));
} catch {}
const jwk =
  (fixture.signingKey as Awaited<ReturnType<typeof generateSigningJwk>>) ?? (await generateSigningJwk());
const retiredJwk =
  (fixture.retiredKey as Awaited<ReturnType<typeof generateSigningJwk>>) ?? (await generateSigningJwk());
const key = await importSigningKey(jwk);
const retired = await importSigningKey(retiredJwk);
const trusted = { keys: [publicJwk(jwk)] };
const header = { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: jwk.kid };
const b64 = (v: unknown) => jose.base64url.encode(JSON.stringify(v));
/** Signs any header and claims: for forging keys that a real issuer would never mint. */
const sign = (h: jose.JWTHeaderParameters, claims: jose.JWTPayload, k: jose.CryptoKey | Uint8Array) =>
  new jose.SignJWT(claims).setProtectedHeader(h).sign(k);
const base = {
  op: 'get',
  obj: 'docs/report.pdf',
  sub: 'alice',
  iat: S,
  nbf: S,
  exp: S + 300,
  jti: 'vector-0000000000001',
};

type Mint = Omit<MintOptions, 'now'>;
const minted: Array<{ name: string; mint: Mint; now?: number }> = [
  {
    name: 'get, minimal',
    mint: { op: 'get', object: 'docs/report.pdf', subject: 'alice', ttl: 300, jti: 'vector-get-00000000001' },
  },
  {
    name: 'put with every write constraint',
    mint: {
      op: 'put',
      object: 'users/alice/photo.png',
      subject: 'alice',
      ttl: 600,
      jti: 'vector-put-00000000001',
      issuer: 'https://app.example',
      maxSize: 10485760,
      minSize: 1,
      contentTypes: ['image/png', 'image/*'],
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      noOverwrite: true,
      once: true,
    },
  },
  {
    name: 'put with an exact size',
    mint: { op: 'put', object: 'a/b', subject: 's', ttl: 60, size: 42, jti: 'vector-size-0000000001' },
  },
  {
    name: 'get with a unicode file name, inline',
    mint: {
      op: 'get',
      object: 'photos/café.jpg',
      subject: 'bob',
      ttl: 3600,
      filename: 'Café crème.jpg',
      inline: true,
      jti: 'vector-inline-00000001',
    },
  },
  { name: 'head', mint: { op: 'head', object: 'x', subject: 's', ttl: 5, jti: 'vector-head-0000000001' } },
  {
    name: 'delete, single use',
    mint: {
      op: 'delete',
      object: 'tmp/old.bin',
      subject: 's',
      ttl: 120,
      once: true,
      jti: 'vector-delete-00000001',
    },
  },
  {
    name: 'not valid for another 2 minutes',
    mint: { op: 'get', object: 'x', subject: 's', ttl: 300, notBefore: 120, jti: 'vector-nbf-00000000001' },
  },
  {
    name: 'expired 61 s ago',
    mint: { op: 'get', object: 'x', subject: 's', ttl: 60, jti: 'vector-expired-0000001' },
    now: NOW - 121_000,
  },
  {
    name: 'expired 59 s ago (within the skew)',
    mint: { op: 'get', object: 'x', subject: 's', ttl: 60, jti: 'vector-skew-0000000001' },
    now: NOW - 119_000,
  },
  {
    name: 'lives 3601 s',
    mint: { op: 'get', object: 'x', subject: 's', ttl: 3601, jti: 'vector-long-0000000001' },
  },
];

const vectors: Array<Record<string, unknown>> = [];
for (const m of minted) {
  const mintedAt = m.now ?? NOW;
  const token = await mintValetKey(key, { ...m.mint, now: () => mintedAt });
  vectors.push({ name: m.name, mint: m.mint, mintedAt, token });
}
/** A valid minimal get key, split into its three parts, to tamper with. */
const parts = async (jti: string) =>
  (await mintValetKey(key, { op: 'get', object: 'x', subject: 's', ttl: 60, jti, now: () => NOW })).split(
    '.',
  );
const [tamperH, tamperP, tamperS = ''] = await parts('vector-tamper-00000001');
const [swapH, , swapS] = await parts('vector-swap-0000000001');
const forged: Array<{ name: string; token: string }> = [
  {
    name: 'tampered signature',
    token: `${tamperH}.${tamperP}.${tamperS[0] === 'A' ? 'B' : 'A'}${tamperS.slice(1)}`,
  },
  {
    name: 'payload swapped under a valid signature',
    token: `${swapH}.${b64({ ...base, obj: 'y' })}.${swapS}`,
  },
  { name: 'alg none', token: `${b64({ alg: 'none', typ: VALET_KEY_TYP, kid: jwk.kid })}.${b64(base)}.` },
  {
    name: 'HS256 keyed with the public key',
    token: await sign({ alg: 'HS256', typ: VALET_KEY_TYP, kid: jwk.kid }, base, jose.base64url.decode(jwk.x)),
  },
  {
    name: 'typ JWT (an ID token shape)',
    token: await sign({ alg: 'EdDSA', typ: 'JWT', kid: jwk.kid }, base, key.privateKey),
  },
  {
    name: 'unknown kid',
    token: await sign({ ...header, kid: 'unknown' }, base, key.privateKey),
  },
  {
    name: 'signed by a retired key',
    token: await sign({ ...header, kid: retired.kid }, base, retired.privateKey),
  },
  {
    name: 'jku header',
    token: await sign({ ...header, jku: 'https://evil.example/jwks' }, base, key.privateKey),
  },
  {
    name: 'unknown claim',
    token: await sign(header, { ...base, ip: '10.0.0.1' }, key.privateKey),
  },
  {
    name: 'write constraint on a get key',
    token: await sign(header, { ...base, max_size: 1 }, key.privateKey),
  },
  {
    name: 'non-canonical object key',
    token: await sign(header, { ...base, obj: 'a/../b' }, key.privateKey),
  },
  { name: 'not a JWS', token: 'not-a-token' },
];
vectors.push(...forged);

// Record the verdict this implementation gives; reviewing the diff of this file is the check
// that a format change was intended.
const keys = await TrustedKeys.fromJwks(trusted);
for (const v of vectors) {
  try {
    const claims = await verifyValetKey(String(v.token), {
      keys,
      now: () => NOW,
      clockSkew: 60,
      maxLifetime: 3600,
    });
    v.expect = { ok: claims };
  } catch (error) {
    v.expect = { error: (error as { code?: string }).code ?? 'unexpected' };
  }
}

const out = {
  description:
    'Known-answer vectors for valet keys. Verify each token at "now" with clockSkew 60 and maxLifetime 3600 against trustedKeys; vectors with "mint" must re-mint to the identical token at "mintedAt". The keys here are test keys, public on purpose.',
  now: NOW,
  clockSkew: 60,
  maxLifetime: 3600,
  signingKey: jwk,
  retiredKey: retiredJwk,
  trustedKeys: trusted,
  vectors,
};
await writeFile(OUT, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${vectors.length} vectors to ${OUT.pathname}`);
