// Validations are a queue in PostgreSQL: with three `valet issuer` replicas (separate processes,
// nothing shared but the database) every upload is validated exactly once, whichever replica
// recorded it, and one killed mid-validation leaves it to the others.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { startClamd } from '../helpers/clamd.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { startPostgres } from '../helpers/postgres.js';
import { query, startReplicas } from '../helpers/replicas.js';
import { freePort, type RunningProcess, startStorage } from '../helpers/storage.js';

const SECRET = randomBytes(32).toString('base64url');

/** The sum of one counter's value over the replicas' `/metrics`, for the given label. */
async function counted(replicas: RunningProcess[], outcome: string): Promise<number> {
  let sum = 0;
  for (const replica of replicas) {
    const text = await (await fetch(`${replica.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`valet_issuer_validations_total{outcome="${outcome}"}`));
    sum += line ? Number(line.split(' ').at(-1)) : 0;
  }
  return sum;
}

describe('validations on three issuer replicas', () => {
  it('validates each upload once, whichever replica records it; a killed replica leaves its share to the others', async (t) => {
    const [postgres, clamd] = await Promise.all([startPostgres(), startClamd(t)]);
    const database = await postgres.freshDatabase();
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const token = await provider.token('alice');
    const key = await testKey();
    const { dir, jwksFile, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), SECRET, { mode: 0o600 });
    const ports = [await freePort(), await freePort(), await freePort()];
    const storage = await startStorage(
      {
        jwksFile,
        args: [
          ...ports.flatMap((port) => ['--issuer', `http://127.0.0.1:${port}`]),
          '--secret-file',
          path.join(dir, 'storage.secret'),
        ],
      },
      t,
    );
    const replicas = await startReplicas(t, ports, {
      database,
      keyFile: keyFile(key),
      secret: SECRET,
      oidcIssuer: provider.issuer,
      config: {
        storageUrl: storage.url,
        metrics: true,
        rules: {
          upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '256MiB', validate: ['type', 'clamav'] },
          read: { op: 'get', prefix: 'users/{subject}/' },
        },
        validation: { clamd: clamd.address },
      },
    });
    // After the replicas (stopped by their own hooks, registered first), PostgreSQL.
    t.after(() => postgres.stop());
    const client = (i: number) =>
      createClient({
        issuer: (replicas[i % 3] as RunningProcess).url,
        getToken: () => token,
        retryDelay: 50,
      });

    // Twelve uploads spread over the replicas, all at once.
    const bodies = Array.from({ length: 12 }, (_, i) =>
      Buffer.from(`file ${i}: ${randomBytes(8).toString('hex')}\n`),
    );
    const results = await Promise.all(
      bodies.map((body, i) => client(i).upload(body, { name: `f${i}.txt`, contentType: 'text/plain' })),
    );
    assert.equal(results.length, 12);
    assert.equal(await counted(replicas, 'published'), 12, 'published once each, over all replicas');
    assert.equal(await counted(replicas, 'retry'), 0);
    assert.equal(await clamd.scans(), 12, 'clamd scanned each upload once');
    const rows = await query(database, `SELECT status, attempts FROM valet.validations`);
    assert.deepEqual(
      rows.rows.map((r) => [r.status, r.attempts]),
      Array.from({ length: 12 }, () => ['published', 0]),
    );

    // A replica killed while it validates: its lease lapses, another replica finishes the job.
    const big = randomBytes(128 * 2 ** 20);
    const stored = await client(0).upload(big, { name: 'big.bin', awaitValidation: false, resumable: false });
    const holder = await query(database, 'SELECT holder FROM valet.validations WHERE id = $1', [
      stored.grant.id,
    ]);
    assert.ok(holder.rows[0], 'queued');
    await (replicas[0] as RunningProcess).stop('SIGKILL');
    const verdict = await createClient({
      issuer: (replicas[1] as RunningProcess).url,
      getToken: () => token,
    }).upload(Buffer.from('after the kill\n'), { name: 'after.txt', contentType: 'text/plain' });
    assert.equal(verdict.validation, undefined);
    const done = await fetch(
      `${(replicas[2] as RunningProcess).url}/v1/keys/${stored.grant.id}/validation?wait=25`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    let state = (await done.json()) as { status: string };
    for (let i = 0; i < 4 && state.status === 'pending'; i++) {
      state = (await (
        await fetch(`${(replicas[2] as RunningProcess).url}/v1/keys/${stored.grant.id}/validation?wait=25`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { status: string };
    }
    assert.equal(state.status, 'published', 'finished by a replica that lives');
    const read = await client(1).download(stored.object);
    assert.equal(Buffer.compare(Buffer.from(await (await read.blob()).arrayBuffer()), big), 0);
  });
});
