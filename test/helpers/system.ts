import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createClient, type ValetClient } from '../../src/client/client.js';
import type { StorageDriver } from '../../src/drivers/types.js';
import { toNodeListener } from '../../src/issuer/http/node.js';
import { createIssuer, type Issuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { AnyIssuerOptions } from '../../src/issuer/options.js';
import type { Rule } from '../../src/issuer/rules.js';
import { ValetError } from '../../src/token/errors.js';
import { keyFiles, type TestKey, testKey } from './keys.js';
import { type RunningStorage, startStorage } from './storage.js';

/** The development policy, as tests use it. */
export const OWNER_RULES: Record<string, Rule> = {
  upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20 },
  read: { op: 'get', prefix: 'users/{subject}/' },
  remove: { op: 'delete', prefix: 'users/{subject}/' },
  share: { op: 'share', prefix: 'users/{subject}/' },
};

/** An issuer served over real HTTP by the test process. */
export interface ServedIssuer {
  url: string;
  server: http.Server;
  /** Bytes the issuer's server has read from all its connections so far. */
  bytesIn(): number;
  /** Installs the issuer once it exists (requests before that get 503). */
  mount(issuer: Pick<Issuer, 'fetch'>): void;
  close(): Promise<void>;
}

/** Binds an HTTP server for an issuer on 127.0.0.1:0 (or `port`), counting the bytes it receives. */
export async function serveIssuer(t: TestContext, port = 0): Promise<ServedIssuer> {
  let handler: Pick<Issuer, 'fetch'> | undefined;
  const sockets = new Set<Socket>();
  let closedBytes = 0;
  const listener = toNodeListener({
    fetch: (request, info) =>
      handler
        ? handler.fetch(request, info)
        : Promise.resolve(
            Response.json({ error: { code: 'unavailable', message: 'starting' } }, { status: 503 }),
          ),
  });
  const server = http.createServer(listener);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      closedBytes += socket.bytesRead;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t.after(close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    bytesIn: () => closedBytes + [...sockets].reduce((sum, s) => sum + s.bytesRead, 0),
    mount(issuer) {
      handler = issuer;
    },
    close,
  };
}

/** A whole system: a spawned `valet storage` and an issuer served by the test. */
export interface TestSystem {
  key: TestKey;
  secret: string;
  issuer: Issuer;
  served: ServedIssuer;
  storage: RunningStorage;
  /** A client for a user (the issuer's test authentication: `Bearer user:<name>`). */
  client(user: string): ValetClient;
}

/** Test authentication: `Authorization: Bearer user:<name>`. */
export function userAuth(request: Request): string | null {
  const match = /^Bearer user:([a-z0-9_-]+)$/.exec(request.headers.get('authorization') ?? '');
  return match?.[1] ?? null;
}

/**
 * Starts storage (`valet storage --issuer … --secret-file …`) and an issuer with `OWNER_RULES`
 * and {@link userAuth}, wired together like production.
 */
export async function startSystem(
  t: TestContext,
  options: {
    issuer?: Partial<AnyIssuerOptions>;
    storageArgs?: string[];
    /** Called once storage runs, before the issuer is created. */
    onStorage?: (storage: RunningStorage) => void;
    /** Mount the issuer under this path (its `basePath`); storage and clients use the full URL. */
    basePath?: string;
    /** With `basePath`: the server strips it before the issuer sees the request (Hono's mount, Express). */
    stripBasePath?: boolean;
  } = {},
): Promise<TestSystem> {
  const basePath = options.basePath ?? '';
  const key = await testKey();
  const { dir, jwksFile } = await keyFiles([key]);
  const secret = randomBytes(32).toString('base64url');
  const secretFile = path.join(dir, 'storage.secret');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  const served = await serveIssuer(t);
  const storage = await startStorage(
    {
      jwksFile,
      args: [
        '--issuer',
        `${served.url}${basePath}`,
        '--secret-file',
        secretFile,
        '--log-level',
        'info',
        ...(options.storageArgs ?? []),
      ],
    },
    t,
  );
  options.onStorage?.(storage);
  const issuer = await createIssuer({
    signingKeys: [key.jwk],
    database: ':memory:',
    storageUrl: storage.url,
    storageSecret: secret,
    authenticate: userAuth,
    rules: OWNER_RULES,
    ...(basePath !== '' && { basePath }),
    ...options.issuer,
  } as IssuerOptions);
  t.after(() => issuer.close());
  served.mount(
    options.stripBasePath
      ? {
          fetch: (request, info) => {
            const url = new URL(request.url);
            url.pathname = url.pathname.slice(basePath.length) || '/';
            return issuer.fetch(new Request(url, request), info);
          },
        }
      : issuer,
  );
  await storageReady(issuer);
  return {
    key,
    secret,
    issuer,
    served,
    storage,
    client: (user) =>
      createClient({ issuer: `${served.url}${basePath}`, getToken: () => `user:${user}`, retryDelay: 50 }),
  };
}

/** Polls `check` until it returns a value other than `undefined`, or fails after `timeout` ms. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeout = 10_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until storage has the issuer's revocation list (a read of a missing object gets 404, not 503). */
export async function storageReady(issuer: Issuer): Promise<void> {
  const probe = await issuer.mint('probe', { op: 'get', key: 'users/probe/none' });
  await eventually(async () => {
    const response = await fetch(probe.url);
    await response.body?.cancel();
    return response.status === 404 ? true : undefined;
  });
}

/** The code a promise is refused with (a ValetError); fails the test if it is not refused. */
export async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ValetError, String(error));
    return error.code;
  }
  assert.fail('expected a refusal');
}

/**
 * An issuer signing through `driver` (in memory, `userAuth`, a test key), served over HTTP and
 * closed when `t` ends; `options` override any of that (rules included).
 */
export async function servedDriverIssuer(
  t: TestContext,
  driver: StorageDriver,
  options: Partial<AnyIssuerOptions> & Pick<AnyIssuerOptions, 'rules'>,
): Promise<{ issuer: Issuer; url: string }> {
  const served = await serveIssuer(t);
  const issuer = await createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    driver,
    storageSecret: 's'.repeat(43),
    authenticate: userAuth,
    ...options,
  } as IssuerOptions);
  t.after(() => issuer.close());
  served.mount(issuer);
  return { issuer, url: served.url };
}
