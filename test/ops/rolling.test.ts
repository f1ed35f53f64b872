// Operations, end to end (npm run test:ops): three issuer replicas on one PostgreSQL behind
// Debian's HAProxy, which health-checks each at /readyz, are restarted one at a time (SIGTERM,
// drain, start again) while clients keep uploading and downloading through the balancer. No
// transfer fails, every mint a client had to try again succeeds, and every upload's event is
// recorded once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { startHaproxy } from '../helpers/haproxy.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { startPostgres } from '../helpers/postgres.js';
import { query, type ReplicaSetup, startReplicas } from '../helpers/replicas.js';
import { freePort, type RunningProcess, startStorage } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

const WORKERS = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a rolling restart of the issuer', () => {
  it('fails no transfer and no mint, one replica at a time behind HAProxy', {
    timeout: 600_000,
  }, async (t) => {
    const postgres = await startPostgres();
    t.after(() => postgres.stop());
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const token = await provider.token('alice');
    const key = await testKey();
    const { dir, keyFile } = await keyFiles([key]);
    const secret = randomBytes(32).toString('base64url');
    await writeFile(path.join(dir, 'storage.secret'), secret, { mode: 0o600 });
    const ports = [await freePort(), await freePort(), await freePort()];
    const storagePort = await freePort();
    const balancer = await startHaproxy(
      t,
      ports.map((port) => `127.0.0.1:${port}`),
    );
    const setup: ReplicaSetup = {
      database: await postgres.freshDatabase(),
      keyFile: keyFile(key),
      secret,
      oidcIssuer: provider.issuer,
      config: {
        storageUrl: `http://127.0.0.1:${storagePort}`,
        rules: {
          upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '4MiB', ttl: '2m' },
          read: { op: 'get', prefix: 'users/{subject}/' },
        },
        drain: '10s',
      },
    };
    const replicas: RunningProcess[] = [];
    for (const port of ports) replicas.push(...(await startReplicas(t, [port], setup)));
    // Storage reaches its issuer (keys, revocations, events) through the balancer too.
    const storage = await startStorage(
      {
        port: storagePort,
        args: ['--issuer', balancer.url, '--secret-file', path.join(dir, 'storage.secret')],
      },
      t,
    );
    const allUp = async () =>
      Object.values(await balancer.states()).every((s) => s.status === 'UP') ? true : undefined;
    await eventually(allUp, 20_000).catch(async (error) => {
      const ready = await Promise.all(replicas.map(async (r) => (await fetch(`${r.url}/readyz`)).text()));
      throw new Error(`HAProxy: ${JSON.stringify(await balancer.states())}; /readyz: ${ready.join(' | ')}`, {
        cause: error,
      });
    });

    // The load: workers upload (every fourth a resumable upload in four chunks) and download
    // through the balancer until the roll is over. Each call the client had to try again is counted.
    let retried = 0;
    const client = createClient({
      issuer: balancer.url,
      getToken: () => token,
      retries: 5,
      retryDelay: 200,
      resumeStore: null,
      chunkSize: 256 * 1024,
      fetch: async (input, init) => {
        const toIssuer = String(input instanceof Request ? input.url : input).startsWith(balancer.url);
        try {
          const response = await fetch(input, init);
          if (toIssuer && response.status >= 500) retried++;
          return response;
        } catch (error) {
          if (toIssuer) retried++;
          throw error;
        }
      },
    });
    let rolling = true;
    t.after(() => {
      rolling = false;
    });
    const failures: string[] = [];
    const uploaded: string[] = [];
    const worker = async (w: number) => {
      for (let i = 0; rolling; i++) {
        const name = `w${w}/${i}.bin`;
        const body = randomBytes(i % 4 === 0 ? 1024 * 1024 : 64 * 1024);
        try {
          const result = await client.upload(new Blob([body]), { name, resumable: i % 4 === 0 });
          uploaded.push(result.key);
          const back = Buffer.from(await (await (await client.download(result.key)).blob()).arrayBuffer());
          if (!back.equals(body)) failures.push(`${name}: downloaded bytes differ`);
        } catch (error) {
          failures.push(`${name}: ${(error as Error).message}`);
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

    // The roll: each replica in turn gets SIGTERM, drains and exits 0; HAProxy marks it down; it
    // starts again and HAProxy marks it up before the next one goes.
    for (const [i, port] of ports.entries()) {
      await sleep(3_000);
      assert.equal(await replicas[i]?.stop('SIGTERM'), 0, `replica ${i} drained and exited cleanly`);
      await eventually(async () =>
        (await balancer.states())[`r${i}`]?.status.startsWith('DOWN') ? true : undefined,
      );
      replicas[i] = (await startReplicas(t, [port], setup))[0] as RunningProcess;
      await eventually(allUp, 20_000);
    }
    await sleep(3_000);
    rolling = false;
    await load;

    const states = await balancer.states();
    t.diagnostic(
      `transfers: ${uploaded.length} uploads and downloads; calls the client tried again: ${retried}; ` +
        `HAProxy retries ${Object.values(states).reduce((n, s) => n + s.retries, 0)}, ` +
        `redispatches ${Object.values(states).reduce((n, s) => n + s.redispatches, 0)}`,
    );
    assert.deepEqual(failures, [], 'no transfer failed');
    assert.ok(uploaded.length >= 40, `the load kept going (${uploaded.length} transfers)`);

    // Every upload's completion reached the replicas, once.
    await eventually(async () => {
      const { rows } = await query(
        setup.database,
        "SELECT object, count(*)::int AS n FROM events WHERE type = 'object.created' GROUP BY object",
      );
      if (rows.length !== uploaded.length) return undefined;
      assert.ok(rows.every((row) => row.n === 1));
      return true;
    }, 30_000);
    assert.equal(await storage.stop(), 0);
  });
});
