import type { KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';

/**
 * The raw Ed25519 primitive for valet keys: sign and verify bytes with an imported key.
 *
 * On Node (and any runtime with `process.getBuiltinModule('node:crypto')`) it calls
 * `node:crypto` synchronously with a `KeyObject` made once per key and kept as long as the key
 * lives: no promise, no copy of the key per call. WebCrypto does the same work asynchronously at
 * about half the speed; it is the fallback where `node:crypto` is missing. Both give identical
 * bytes (Ed25519 is deterministic), which the known-answer vectors check.
 *
 * Only the primitive lives here. Parsing the JWS (jose) and checking claims stay in `verify.ts`.
 */
type NodeCrypto = typeof import('node:crypto');

const nodeCrypto = loadNodeCrypto();

function loadNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const loaded = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
  return typeof loaded?.verify === 'function' && typeof loaded.KeyObject?.from === 'function'
    ? loaded
    : undefined;
}

const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyObject(crypto: NodeCrypto, key: CryptoKey): KeyObject {
  let object = keyObjects.get(key);
  if (!object) {
    object = crypto.KeyObject.from(key);
    keyObjects.set(key, object);
  }
  return object;
}

/** Which implementation is in use (for benchmarks and tests). */
export const ed25519Backend: 'node:crypto' | 'webcrypto' = nodeCrypto ? 'node:crypto' : 'webcrypto';

/**
 * True if `signature` is `key`'s Ed25519 signature of `data`. Synchronous with `node:crypto`;
 * a promise with WebCrypto (`useWebCrypto` forces that path, for tests).
 */
export function verifyEd25519(
  key: CryptoKey,
  data: Uint8Array,
  signature: Uint8Array,
  useWebCrypto = false,
): boolean | Promise<boolean> {
  if (nodeCrypto && !useWebCrypto) {
    return nodeCrypto.verify(null, data, keyObject(nodeCrypto, key), signature);
  }
  return globalThis.crypto.subtle.verify('Ed25519', key, signature, data);
}

/**
 * Checks a compact JWS's signature: `signingInput` is its ASCII `header.payload`, `signature` its
 * base64url third part (already checked to be canonical base64url). False for a signature that
 * is not 64 bytes. On `node:crypto` both are decoded by `Buffer` with no copy through a
 * TextEncoder; WebCrypto gets the same bytes (`useWebCrypto` forces that path, for tests).
 */
export function verifyJwsEd25519(
  key: CryptoKey,
  signingInput: string,
  signature: string,
  useWebCrypto = false,
): boolean | Promise<boolean> {
  if (signature.length !== ED25519_SIGNATURE_CHARS) return false;
  if (nodeCrypto && !useWebCrypto) {
    const data = Buffer.from(signingInput, 'latin1');
    return nodeCrypto.verify(null, data, keyObject(nodeCrypto, key), Buffer.from(signature, 'base64url'));
  }
  return verifyEd25519(key, new TextEncoder().encode(signingInput), base64urlBytes(signature), true);
}

/** 64 bytes in unpadded base64url. */
const ED25519_SIGNATURE_CHARS = 86;

function base64urlBytes(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** `key`'s Ed25519 signature of `data` (64 bytes). */
export function signEd25519(
  key: CryptoKey,
  data: Uint8Array,
  useWebCrypto = false,
): Uint8Array | Promise<Uint8Array> {
  if (nodeCrypto && !useWebCrypto) return nodeCrypto.sign(null, data, keyObject(nodeCrypto, key));
  return globalThis.crypto.subtle.sign('Ed25519', key, data).then((bytes) => new Uint8Array(bytes));
}
