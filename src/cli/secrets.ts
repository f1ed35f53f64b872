import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { MIN_SECRET_BYTES } from '../token/signature.js';
import { UsageError } from './args.js';

/** Reads a shared secret (one line, at least 32 bytes) from a file. */
export async function readSecretFile(file: string): Promise<string> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new UsageError(
      `cannot read the secret file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  if (Buffer.byteLength(text) < MIN_SECRET_BYTES) {
    throw new UsageError(`the secret in ${file} is shorter than ${MIN_SECRET_BYTES} bytes`);
  }
  return text;
}

/** Reads a JSON file written by {@link writePrivateJson}, or creates it with `make()` (mode 0600). */
export async function loadOrCreateJson<T>(file: string, make: () => Promise<T>): Promise<T> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = await make();
  await writePrivate(file, `${JSON.stringify(value, null, 2)}\n`);
  return value;
}

/** Reads a secret file, or creates one with 256 random bits (mode 0600). */
export async function loadOrCreateSecret(file: string): Promise<string> {
  try {
    return await readSecretFile(file);
  } catch (error) {
    if (!(error instanceof UsageError) || !(await missing(file))) throw error;
  }
  const secret = newSecret();
  await writePrivate(file, `${secret}\n`);
  return secret;
}

/** A new shared secret: 256 random bits, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

async function missing(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return false;
  } catch {
    return true;
  }
}

/** Writes a file readable by its owner only, never replacing an existing one. */
async function writePrivate(file: string, text: string): Promise<void> {
  await fs.writeFile(file, text, { mode: 0o600, flag: 'wx' });
}
