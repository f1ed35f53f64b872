import { writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { VALET_KEY_TYP } from '../../src/token/claims.js';
import {
  generateSigningJwk,
  importSigningKey,
  type PrivateSigningJwk,
  publicJwk,
  type SigningKey,
} from '../../src/token/keys.js';
import { keyUrl, type MintOptions, mintValetKey } from '../../src/token/mint.js';

/** A signing key for tests, with its private JWK. */
export interface TestKey {
  jwk: PrivateSigningJwk;
  signing: SigningKey;
  /** Mints a key with defaults: subject `tester`, ttl 300 s. */
  mint(options: Partial<MintOptions> & Pick<MintOptions, 'op' | 'object'>): Promise<string>;
}

/** A fresh signing key. */
export async function testKey(): Promise<TestKey> {
  const jwk = await generateSigningJwk();
  const signing = await importSigningKey(jwk);
  return {
    jwk,
    signing,
    mint: (options) => mintValetKey(signing, { subject: 'tester', ttl: 300, ...options }),
  };
}

/** A temporary directory that holds a JWK set of `trusted` keys and each key's private JWK. */
export async function keyFiles(
  trusted: TestKey[],
): Promise<{ dir: string; jwksFile: string; keyFile: (k: TestKey) => string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-keys-'));
  const jwksFile = path.join(dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: trusted.map((k) => publicJwk(k.jwk)) }));
  const files = new Map<TestKey, string>();
  return {
    dir,
    jwksFile,
    keyFile(k) {
      let file = files.get(k);
      if (!file) {
        file = path.join(dir, `${k.jwk.kid}.json`);
        files.set(k, file);
        writeFileSync(file, JSON.stringify(k.jwk), { mode: 0o600 });
      }
      return file;
    },
  };
}

/** The URL for a key on a storage server. */
export function urlFor(storage: string, object: string, token: string): string {
  return keyUrl(storage, object, token);
}

/** Signs arbitrary header and claims with a key: for forging keys a real issuer would never mint. */
export async function signRaw(
  header: jose.JWTHeaderParameters,
  claims: jose.JWTPayload,
  key: jose.CryptoKey | Uint8Array,
): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

/** Base64url JSON, for hand-built tokens such as `alg: none`. */
export function b64json(value: unknown): string {
  return jose.base64url.encode(JSON.stringify(value));
}

/** Claims of a valid key, for building variants. */
export function claimsFor(
  op: string,
  object: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): jose.JWTPayload {
  return {
    op,
    obj: object,
    sub: 'tester',
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 300,
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
  };
}

export { VALET_KEY_TYP };
