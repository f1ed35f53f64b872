import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Google's V4 signing conformance vectors (googleapis/conformance-tests, `storage/v1`), read where
 * Debian's golang-google-cloud-dev installs them (`npm test` installs it): `v4_signatures.json`
 * and the dummy service account they are signed with. Not shipped in Valet; tests only.
 */

export const VECTORS_DIR =
  process.env.VALET_GCS_VECTORS_DIR ??
  '/usr/share/gocode/src/cloud.google.com/go/storage/internal/test/conformance';

/** One `signingV4Tests` entry. */
export interface SigningVector {
  description: string;
  bucket: string;
  object?: string;
  method: string;
  expiration: string | number;
  timestamp: string;
  headers?: Record<string, string>;
  queryParameters?: Record<string, string>;
  scheme?: string;
  urlStyle?: string;
  expectedUrl: string;
  expectedCanonicalRequest?: string;
  expectedStringToSign?: string;
}

/** The dummy service account's `client_email` and `private_key`. */
export interface DummyAccount {
  client_email: string;
  private_key: string;
}

function read(file: string): string {
  const full = path.join(VECTORS_DIR, file);
  if (!existsSync(full)) {
    throw new Error(
      `${full} is missing: Google's signing vectors come with Debian's golang-google-cloud-dev ` +
        '(npm test installs it as root; or: sudo apt-get install golang-google-cloud-dev)',
    );
  }
  return readFileSync(full, 'utf8');
}

export function signingVectors(): SigningVector[] {
  return (JSON.parse(read('v4_signatures.json')) as { signingV4Tests: SigningVector[] }).signingV4Tests;
}

export function dummyAccount(): DummyAccount {
  return JSON.parse(read('service-account')) as DummyAccount;
}
