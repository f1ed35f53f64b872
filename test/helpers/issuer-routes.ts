// An issuer for route tests: in-process (`issuer.fetch(new Request(…))`), on the memory store
// and an in-memory SQLite database, so that a case takes milliseconds and needs no port. Callers
// sign in as `Bearer user:<name>`; `admin` is an admin. Every rule accepts that the memory store
// cannot revoke its URLs.
import { MemoryDriver } from '../../src/drivers/memory.js';
import { createIssuer, type Issuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { AnyIssuerOptions } from '../../src/issuer/options.js';
import type { Rule } from '../../src/issuer/rules.js';
import { testKey } from './keys.js';

export const BASE = 'http://issuer.test';

/** The rules route tests start from: alice and bob each own `users/<name>/`. */
export const ROUTE_RULES: Record<string, Rule> = {
  upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 1000, contentTypes: ['text/*', 'image/*'] },
  read: { op: 'get', prefix: 'users/{subject}/' },
  remove: { op: 'delete', prefix: 'users/{subject}/' },
  share: { op: 'share', prefix: 'users/{subject}/', ttl: 3600 },
};

export interface CallInit {
  method?: string;
  user?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteIssuer {
  issuer: Issuer;
  memory: MemoryDriver;
  /** A request to the issuer, answered in-process. */
  call(path: string, init?: CallInit): Promise<Response>;
  /** The same, with the answer's status and JSON body. */
  json<T = Record<string, unknown>>(path: string, init?: CallInit): Promise<{ status: number; body: T }>;
  /** An upload as a client makes it: a key, the PUT to the memory store, the completion. */
  upload(
    user: string,
    name: string,
    text: string,
    extra?: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
}

export async function routeIssuer(
  overrides: Partial<AnyIssuerOptions> = {},
  rules: Record<string, Rule> = ROUTE_RULES,
): Promise<RouteIssuer> {
  const memory = new MemoryDriver();
  const issuer = await createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    driver: memory,
    storageSecret: 's'.repeat(43),
    admins: ['admin'],
    authenticate: (request) =>
      /^Bearer user:(\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
    // The memory store's URLs cannot be revoked: every rule accepts that, as an app on S3 does.
    rules: Object.fromEntries(
      Object.entries(rules).map(([name, rule]) => [name, { accept: ['revocation'], ...rule }]),
    ),
    ...overrides,
  } as IssuerOptions);
  const call = (path: string, init: CallInit = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.user) headers.authorization = `Bearer user:${init.user}`;
    if (init.body !== undefined) headers['content-type'] ??= 'application/json';
    return issuer.fetch(
      new Request(`${BASE}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers,
        ...(init.body !== undefined && {
          body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
        }),
      }),
    );
  };
  const json = async <T>(path: string, init: CallInit = {}) => {
    const response = await call(path, init);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const upload = async (user: string, name: string, text: string, extra: Record<string, unknown> = {}) => {
    const minted = await json<{ id: string; url: string; headers: Record<string, string> }>('/v1/keys', {
      user,
      body: { op: 'put', name, content_type: 'text/plain', size: Buffer.byteLength(text), ...extra },
    });
    if (minted.status !== 201) throw new Error(`no key: ${JSON.stringify(minted.body)}`);
    const put = await memory.fetch(
      new Request(minted.body.url, { method: 'PUT', headers: minted.body.headers, body: text }),
    );
    if (!put.ok) throw new Error(`the store refused the upload: ${await put.text()}`);
    const done = await json<Record<string, unknown>>(`/v1/keys/${minted.body.id}/complete`, {
      user,
      body: {},
    });
    if (done.status !== 200) throw new Error(`not completed: ${JSON.stringify(done.body)}`);
    return done.body;
  };
  return { issuer, memory, call, json, upload };
}

/** The error code of a refusal's body. */
export function codeOf(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | undefined)?.error?.code;
}
