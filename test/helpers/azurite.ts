import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AzureDriver, type AzureDriverOptions } from '../../src/drivers/azure/index.js';
import { freePort, ROOT } from './storage.js';

/** Azurite's well-known development account (public, in Azure's own documentation). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A running Azurite blob service. */
export interface Azurite {
  /** The blob endpoint, `http://127.0.0.1:PORT/devstoreaccount1`. */
  endpoint: string;
  connectionString: string;
  pid: number;
  stop(): Promise<void>;
}

// Azurite is stopped by PID when the test process ends, whatever happened.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts Azurite's blob service (the npm package, a real emulator that checks SAS signatures,
 * permissions, start and expiry) on a free port with a fresh data folder. Fails loudly if it
 * cannot: Azure tests are never skipped. `--skipApiVersionCheck`: the SDK speaks a newer API
 * version than Azurite declares.
 */
export async function startAzurite(
  options: { https?: { cert: string; key: string } } = {},
): Promise<Azurite> {
  const location = await mkdtemp(path.join(tmpdir(), 'valet-azurite-'));
  const port = await freePort();
  const bin = path.join(ROOT, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  const child = spawn(
    process.execPath,
    [
      bin,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--disableTelemetry',
      '--skipApiVersionCheck',
      // HTTPS with a certificate of the test's own, and Azurite's basic OAuth (it checks a bearer
      // token's form, audience and issuer, not its signature: no Entra ID runs here).
      ...(options.https
        ? ['--cert', options.https.cert, '--key', options.https.key, '--oauth', 'basic']
        : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start in 20 s: ${output}`)), 20_000);
    const check = () => {
      if (output.includes('successfully listens')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${output}`));
    });
  });
  const endpoint = `${options.https ? 'https' : 'http'}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    connectionString: `DefaultEndpointsProtocol=${options.https ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
    pid: child.pid as number,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      running.delete(child);
      await rm(location, { recursive: true, force: true });
    },
  };
}

/** An Azure driver for a container of a test Azurite (created if missing). */
export async function azuriteContainer(
  azurite: Azurite,
  container: string,
  overrides: Partial<AzureDriverOptions> = {},
): Promise<AzureDriver> {
  const driver = new AzureDriver({ container, connectionString: azurite.connectionString, ...overrides });
  await driver.ensureContainer();
  return driver;
}
