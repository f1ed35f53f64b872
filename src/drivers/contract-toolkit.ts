import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ValetError } from '../token/errors.js';
import { buildClaims, type MintOptions, randomKeyId } from '../token/mint.js';
import type { DriverUnderTest } from './contract.js';
import { ownKeyOptions } from './own-keys.js';
import type { DriverContext, SignedRequest, SignOptions, StorageDriver } from './types.js';

/** The contract suite's tools (see contract.ts): names, signing, sending, and what to expect. */

/** What the checks need: names, signing, sending. */
export interface Toolkit {
  driver: StorageDriver;
  name(suffix: string): string;
  context(now?: number): DriverContext;
  sign(
    options: Omit<MintOptions, 'subject' | 'ttl' | 'now'> & { ttl?: number; now?: number },
    type?: string,
  ): Promise<SignedRequest>;
  send(request: SignedRequest, body?: Uint8Array, type?: string): Promise<Response>;
  /** Stores `body` under a fresh name; returns the name. */
  stored(suffix: string, body: Uint8Array): Promise<string>;
  body(object: string): Uint8Array;
}

export function toolkit(setup: DriverUnderTest): Toolkit {
  const run = randomKeyId().slice(0, 8);
  const bodies = new Map<string, Uint8Array>();
  const send = setup.send ?? ((request: Request) => fetch(request));
  const valetKey =
    setup.valetKey ??
    (() =>
      Promise.reject(new ValetError('invalid_options', 'this driver asked for a valet key: pass valetKey')));
  const claims = (o: Parameters<Toolkit['sign']>[0]) => {
    const now = o.now ?? Date.now();
    const { now: _n, ttl, ...rest } = o;
    return { claims: buildClaims({ subject: 'contract', ttl: ttl ?? 120, ...rest, now: () => now }), now };
  };
  const t: Toolkit = {
    driver: setup.driver,
    name: (suffix) => `contract/${run}/${suffix}`,
    context: (now = Date.now()) => ({
      now,
      issuerKey: (op, object, version) =>
        valetKey(buildClaims({ ...ownKeyOptions(op, object, 'contract', version), now: () => now })),
    }),
    async sign(o, type) {
      const { claims: c, now } = claims(o);
      const options: SignOptions = {
        now,
        ...(type !== undefined && { contentType: type }),
        objectType: async () => type,
        valetKey: () => valetKey(c),
      };
      return setup.driver.sign(c, options);
    },
    async send(request, body, type) {
      const headers = new Headers(request.headers);
      headers.delete('content-length');
      if (type !== undefined && !request.fields) headers.set('content-type', type);
      let payload: RequestInit['body'];
      if (request.fields) {
        const form = new FormData();
        for (const [k, v] of Object.entries(request.fields)) form.append(k, v);
        if (request.fields['Content-Type'] === undefined && type !== undefined)
          form.append('Content-Type', type);
        form.append('file', new Blob([body ?? new Uint8Array()], type !== undefined ? { type } : {}));
        payload = form;
      } else if (body !== undefined) payload = body;
      return send(
        new Request(request.url, {
          method: request.method,
          headers,
          ...(payload !== undefined && { body: payload }),
        }),
      );
    },
    async stored(suffix, body) {
      const object = t.name(suffix);
      const res = await t.send(
        await t.sign({ op: 'put', object, size: body.length }, 'application/octet-stream'),
        body,
        'application/octet-stream',
      );
      assert.ok(res.ok, `storing ${object}: ${res.status}`);
      await res.body?.cancel();
      bodies.set(object, body);
      return object;
    },
    body: (object) => bodies.get(object) ?? new Uint8Array(),
  };
  return t;
}

/** Expects the store to refuse `request`, and `object` then to hold `before` (or nothing). */
export async function refused(t: Toolkit, what: string, res: Response, object: string, before?: Uint8Array) {
  await res.body?.cancel();
  assert.ok(res.status >= 400 && res.status < 500, `${what}: the store answered ${res.status}`);
  const head = await t.driver.head(object, t.context());
  if (before === undefined) assert.equal(head, undefined, `${what}: nothing is stored`);
  else assert.equal(head?.size, before.length, `${what}: the object is unchanged`);
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
