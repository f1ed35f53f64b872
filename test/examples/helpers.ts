// Running the examples against the packed package as a user installed it (see
// scripts/test-examples.mjs): the app's folder is copied next to that install, the `valet` CLI is
// the installed one, and the client is imported from the installed package.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freePort, ROOT } from '../helpers/storage.js';

/** The app folder the examples' dependencies and the packed `valet` are installed in. */
export function installed(): string {
  const dir = process.env.VALET_EXAMPLES;
  assert.ok(dir, 'the examples run from an installed package: npm run test:examples');
  return dir;
}

/**
 * A fresh copy of `examples/<name>` (or an empty folder, `from: null`) inside the install, with
 * its signing key and storage secret made by the CLI as the README says.
 */
export async function exampleApp(
  name: string,
  from: string | null = path.join(ROOT, 'examples', name),
  options: { keys?: boolean } = {},
): Promise<string> {
  const dir = path.join(installed(), name);
  await rm(dir, { recursive: true, force: true });
  if (from === null) await mkdir(dir, { recursive: true });
  else await cp(from, dir, { recursive: true });
  if (options.keys !== false) {
    valet(dir, 'keygen', '--out', 'signing.jwk');
    valet(dir, 'secret', '--out', 'storage.secret');
  }
  return dir;
}

/** The installed package's `valet` command. */
export function valetBin(): string {
  return path.join(installed(), 'node_modules', '.bin', 'valet');
}

/** Runs the installed `valet` in `dir`. */
export function valet(dir: string, ...args: string[]): string {
  return execFileSync(valetBin(), args, { cwd: dir, encoding: 'utf8' });
}

/** The installed package's client (what an app imports as `valet/client`). */
export async function installedClient(): Promise<typeof import('../../src/client/index.js')> {
  const entry = path.join(installed(), 'node_modules', 'valet', 'dist', 'client', 'index.js');
  return import(pathToFileURL(entry).href);
}

/** A started process, stopped by its PID when the test ends; resolves once `ready` matches its output. */
export async function started(
  t: TestContext,
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; ready?: RegExp; timeout?: number },
): Promise<{ proc: ChildProcess; output: () => string }> {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  t.after(() => {
    if (proc.exitCode === null && proc.pid !== undefined) {
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {}
    }
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  const { ready } = options;
  if (!ready) return { proc, output: () => output };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} ${args.join(' ')} did not start:\n${output}`)),
      options.timeout ?? 60_000,
    );
    const onData = () => {
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code}:\n${output}`));
    });
  });
  return { proc, output: () => output };
}

/** Ports for an app and its storage, and storage started for the app's issuer at `basePath`. */
export async function storageFor(
  t: TestContext,
  dir: string,
  options: { basePath: string; corsOrigin?: boolean },
): Promise<{ appPort: number; storageUrl: string }> {
  const [appPort, storagePort] = [await freePort(), await freePort()];
  await started(
    t,
    valetBin(),
    [
      'storage',
      '--data',
      path.join(dir, 'objects'),
      '--port',
      String(storagePort),
      '--issuer',
      `http://127.0.0.1:${appPort}${options.basePath}`,
      '--secret-file',
      'storage.secret',
      ...(options.corsOrigin ? ['--cors-origin', `http://127.0.0.1:${appPort}`] : []),
    ],
    { cwd: dir, ready: /valet storage listening on/ },
  );
  return { appPort, storageUrl: `http://127.0.0.1:${storagePort}` };
}

/** Upload, list, share, open the link and download, with the installed client, through the app's issuer. */
export async function roundTrip(issuerUrl: string, user = 'alice'): Promise<void> {
  const { createClient } = await installedClient();
  const client = createClient({ issuer: issuerUrl, getToken: () => user, retryDelay: 200 });
  const body = `hello from ${user} at ${Date.now()}`;
  // Storage refuses keys until its first revocation poll of the app succeeds: retried by the client.
  const uploaded = await client.upload(new Blob([body], { type: 'text/plain' }), { name: 'hello.txt' });
  assert.equal(uploaded.key, `users/${user}/hello.txt`);
  assert.ok(
    (await client.list()).some((o) => o.key === uploaded.key),
    'listed',
  );
  const link = await client.share(uploaded.key, { ttl: 60 });
  assert.equal(await (await fetch(link.url)).text(), body, 'the share link opens it');
  assert.equal(await (await (await client.download(uploaded.key)).blob()).text(), body, 'downloaded');
}
