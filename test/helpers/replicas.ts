import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { type RunningProcess, startValet } from './storage.js';

/** What every replica of one issuer shares: its records, key, secret, identity provider and rules. */
export interface ReplicaSetup {
  /** The PostgreSQL database they share. */
  database: string;
  /** The private signing JWK file (each replica gets its own copy). */
  keyFile: string;
  secret: string;
  oidcIssuer: string;
  /** The rest of the issuer config (storage, rules, quota). */
  config: Record<string, unknown>;
  /** Environment of each process (e.g. S3 credentials). */
  env?: Record<string, string>;
}

/**
 * Starts one `valet issuer --config` per port, each in a folder of its own with its own copies of
 * the key and secret (nothing shared but PostgreSQL, as on separate machines).
 */
export async function startReplicas(
  t: TestContext,
  ports: number[],
  setup: ReplicaSetup,
): Promise<RunningProcess[]> {
  const replicas: RunningProcess[] = [];
  for (const port of ports) {
    const own = await mkdtemp(path.join(tmpdir(), 'valet-replica-'));
    await copyFile(setup.keyFile, path.join(own, 'signing.jwk'));
    await writeFile(path.join(own, 'storage.secret'), setup.secret, { mode: 0o600 });
    const config = {
      port,
      signingKeys: ['signing.jwk'],
      storageSecretFile: 'storage.secret',
      database: setup.database,
      oidc: { issuer: setup.oidcIssuer, audience: 'urn:valet', algorithms: ['ES256'] },
      logLevel: 'warn',
      ...setup.config,
    };
    await writeFile(path.join(own, 'issuer.json'), JSON.stringify(config));
    replicas.push(
      await startValet(
        ['issuer', '--config', path.join(own, 'issuer.json')],
        /listening on (http:\/\/\S+)/,
        t,
        setup.env ?? {},
      ),
    );
  }
  return replicas;
}

/** Calls replica `i` (round-robin) with a bearer token, as a load balancer would spread callers. */
export function replicaCaller(replicas: RunningProcess[], token: string) {
  return (i: number, method: string, route: string, body?: unknown) =>
    fetch(`${(replicas[i % replicas.length] as RunningProcess).url}${route}`, {
      method,
      redirect: 'manual',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
}

/** Runs one query on `database` and closes the connection. */
export async function query(database: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const db = new pg.Client({ connectionString: database });
  await db.connect();
  try {
    return await db.query(sql, params);
  } finally {
    await db.end();
  }
}

/**
 * 200 mints at once, spread over the replicas, against a quota of 50 objects: the statuses (the
 * caller checks that exactly 50 are 201).
 */
export function mintAtOnce(call: ReturnType<typeof replicaCaller>, count = 200): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await call(i, 'POST', '/v1/keys', { op: 'put', name: `q/${i}.txt`, size: 10 });
      await res.body?.cancel();
      return res.status;
    }),
  );
}

/**
 * Mints get keys for `key` from all replicas while replica `victim` is killed part-way; a client
 * that finds a replica gone tries the next. Returns the ids of the keys acknowledged (201).
 */
export async function mintWhileKilling(
  replicas: RunningProcess[],
  call: ReturnType<typeof replicaCaller>,
  key: string,
  victim: number,
): Promise<string[]> {
  const acknowledged: string[] = [];
  await Promise.all(
    Array.from({ length: 120 }, async (_, i) => {
      if (i === 40) replicas[victim]?.proc.kill('SIGKILL');
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const res = await call(i + attempt, 'POST', '/v1/keys', { op: 'get', key });
          if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
          else await res.body?.cancel();
          return;
        } catch {
          // that replica is gone: the next one
        }
      }
    }),
  );
  return acknowledged;
}
