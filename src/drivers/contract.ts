import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ValetClaims } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { buildClaims, type MintOptions, randomKeyId } from '../token/mint.js';
import type {
  Constraint,
  DriverContext,
  MultipartUploads,
  SignedRequest,
  SignOptions,
  StorageDriver,
} from './types.js';

/** A driver set up for the contract suite. */
export interface DriverUnderTest {
  driver: StorageDriver;
  /** Sends a request to the store. Default: `fetch`. */
  send?: (request: Request) => Promise<Response>;
  /** Signs claims as a valet key, for drivers of stores that verify valet keys. */
  valetKey?: (claims: ValetClaims) => Promise<string>;
  /** Stops what `open` started. */
  close?: () => Promise<void>;
}

const FIVE_MIB = 5 * 1024 * 1024;

/**
 * The contract every {@link StorageDriver} keeps, run against a real store: what it signs works
 * at the store, what its enforcement table says the store enforces the store does refuse,
 * `head` and `delete` speak for the store, and its resumable uploads (tus or multipart) end as
 * whole objects. `open` starts a store and returns the driver (once per suite).
 *
 * @example
 * ```ts
 * import { driverContract } from 'valet/drivers/testing'
 * driverContract('my store', async () => ({ driver: new MyDriver(…) }))
 * ```
 */
export function driverContract(name: string, open: () => Promise<DriverUnderTest>): void {
  describe(`StorageDriver contract: ${name}`, () => {
    let setup: DriverUnderTest;
    let t: Toolkit;
    before(async () => {
      setup = await open();
      t = toolkit(setup);
    });
    after(() => setup?.close?.());

    it('signs an upload the store takes, and head() reports it', async () => {
      const object = t.name('put.txt');
      const body = bytes('hello, store');
      const res = await t.send(
        await t.sign({ op: 'put', object, size: body.length }, 'text/plain'),
        body,
        'text/plain',
      );
      assert.ok(res.ok, `${res.status}`);
      const head = await setup.driver.head(object, t.context());
      assert.equal(head?.size, body.length);
      assert.equal(head?.contentType, 'text/plain');
      assert.ok(head?.etag);
      if (head?.sha256 !== undefined) assert.equal(head.sha256, sha256(body));
      // A store the issuer verifies from says when an object was written (unreported uploads are
      // attributed to the key valid then).
      if (setup.driver.completion === 'client') {
        assert.ok(head?.modifiedAt !== undefined, 'head() gives modifiedAt');
        assert.ok(Math.abs(head.modifiedAt - Date.now()) < 120_000, 'modifiedAt is the write time');
      }
    });

    it('signs a read that returns the stored bytes', async () => {
      const object = await t.stored('read.bin', randomBytes(1000));
      const res = await t.send(await t.sign({ op: 'get', object }));
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(t.body(object)));
    });

    it('signs a delete that removes the object', async () => {
      const object = await t.stored('delete.bin', randomBytes(10));
      const res = await t.send(await t.sign({ op: 'delete', object }));
      assert.ok(res.ok, `${res.status}`);
      assert.equal(await setup.driver.head(object, t.context()), undefined);
    });

    it('deletes with its own authority, and knows no head of a missing object', async () => {
      const object = await t.stored('own-delete.bin', randomBytes(10));
      await setup.driver.delete(object, t.context());
      assert.equal(await setup.driver.head(object, t.context()), undefined);
      await setup.driver.delete(object, t.context());
    });

    it('has its store refuse every constraint its enforcement table says the store enforces', async () => {
      const table = setup.driver.enforcement();
      const enforced = (Object.keys(table) as Constraint[]).filter((c) => table[c] === 'store');
      for (const constraint of enforced) {
        const check = CHECKS[constraint];
        if (check) await check(t);
      }
    });

    it('takes a resumable upload and makes it one whole object', async (ctx) => {
      const resumable = setup.driver.resumable;
      if (!resumable) return ctx.skip('this store has no resumable uploads');
      if (resumable.protocol === 'tus') return tusUpload(t);
      return multipartUpload(t);
    });
  });
}

/** What the checks need: names, signing, sending. */
interface Toolkit {
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

function toolkit(setup: DriverUnderTest): Toolkit {
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
      issuerKey: (op, object) =>
        valetKey(
          buildClaims({ op, object, subject: 'contract', ttl: 60, once: op === 'delete', now: () => now }),
        ),
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
async function refused(t: Toolkit, what: string, res: Response, object: string, before?: Uint8Array) {
  await res.body?.cancel();
  assert.ok(res.status >= 400 && res.status < 500, `${what}: the store answered ${res.status}`);
  const head = await t.driver.head(object, t.context());
  if (before === undefined) assert.equal(head, undefined, `${what}: nothing is stored`);
  else assert.equal(head?.size, before.length, `${what}: the object is unchanged`);
}

const CHECKS: Partial<Record<Constraint, (t: Toolkit) => Promise<void>>> = {
  size: async (t) => {
    const object = t.name('size.bin');
    const res = await t.send(await t.sign({ op: 'put', object, size: 10 }), randomBytes(11));
    await refused(t, 'size', res, object);
  },
  max_size: async (t) => {
    const object = t.name('max.bin');
    const res = await t.send(
      await t.sign({ op: 'put', object, maxSize: 10 }),
      randomBytes(11),
      'application/octet-stream',
    );
    await refused(t, 'max_size', res, object);
  },
  min_size: async (t) => {
    const object = t.name('min.bin');
    const res = await t.send(
      await t.sign({ op: 'put', object, minSize: 5, maxSize: 100 }),
      randomBytes(2),
      'application/octet-stream',
    );
    await refused(t, 'min_size', res, object);
  },
  content_types: async (t) => {
    const object = t.name('type.png');
    const signed = await t.sign({ op: 'put', object, size: 4, contentTypes: ['image/png'] }, 'image/png');
    await refused(t, 'content_types', await t.send(signed, bytes('<b>'), 'text/html'), object);
  },
  sha256: async (t) => {
    const object = t.name('digest.bin');
    const signed = await t.sign({ op: 'put', object, size: 5, sha256: sha256(bytes('right')) });
    await refused(t, 'sha256', await t.send(signed, bytes('wrong')), object);
  },
  expiry: async (t) => {
    const object = t.name('expired.bin');
    const signed = await t.sign({ op: 'put', object, size: 1, ttl: 60, now: Date.now() - 2 * 3600_000 });
    await refused(t, 'expiry', await t.send(signed, bytes('x')), object);
  },
  once: async (t) => {
    const object = await t.stored('once.bin', bytes('once'));
    const signed = await t.sign({ op: 'get', object, once: true });
    const first = await t.send(signed);
    assert.equal(first.status, 200);
    await first.body?.cancel();
    const again = await t.send(signed);
    await again.body?.cancel();
    assert.ok(again.status >= 400 && again.status < 500, `once: the second use got ${again.status}`);
  },
  no_overwrite: async (t) => {
    const before = bytes('first');
    const object = await t.stored('create-only.bin', before);
    const signed = await t.sign({ op: 'put', object, size: 6, noOverwrite: true });
    await refused(t, 'no_overwrite', await t.send(signed, bytes('second')), object, before);
  },
};

async function tusUpload(t: Toolkit): Promise<void> {
  const object = t.name('tus.bin');
  const body = randomBytes(100_000);
  const create = await t.sign({ op: 'put', object, size: body.length, resumable: true });
  const created = await t.send({
    ...create,
    headers: { ...create.headers, 'tus-resumable': '1.0.0', 'upload-length': String(body.length) },
  });
  assert.equal(created.status, 201);
  const id = new URL(created.headers.get('location') ?? '', create.url).pathname.split('/').pop() as string;
  // The rest goes with a renewed key for the same upload.
  const renewed = await t.sign({ op: 'put', object, size: body.length, upload: id });
  const chunk = {
    ...renewed,
    headers: { ...renewed.headers, 'tus-resumable': '1.0.0', 'upload-offset': '0' },
  };
  const done = await t.send(chunk, body, 'application/offset+octet-stream');
  assert.ok(done.ok, `${done.status}`);
  assert.equal((await t.driver.head(object, t.context()))?.size, body.length);
}

async function multipartUpload(t: Toolkit): Promise<void> {
  const multipart = t.driver.resumable;
  assert.ok(multipart && multipart.protocol !== 'tus');
  const object = t.name('multipart.bin');
  const parts = [randomBytes(FIVE_MIB), randomBytes(1000)];
  const total = FIVE_MIB + 1000;
  const ctx = t.context();
  const uploadId = await multipart.create({ object, contentType: 'application/octet-stream' }, ctx);
  for (const [i, part] of parts.entries()) {
    const signed = await multipart.signPart(
      { object, uploadId, partNumber: i + 1, size: part.length, ttl: 60 },
      ctx,
    );
    if (multipart.partLength === 'store') {
      // A part's request takes exactly its length.
      await refused(t, 'part size', await t.send(signed, part.subarray(1)), object);
    } else {
      // The store takes a short part; the parts it lists say so (the issuer then refuses to complete).
      const short = await t.send(signed, part.subarray(1));
      assert.ok(short.ok, `short part ${i + 1}: ${short.status}`);
      await short.body?.cancel();
      const held = await multipart.listParts(object, uploadId, ctx);
      assert.equal(held.find((p) => p.partNumber === i + 1)?.size, part.length - 1);
    }
    const res = await t.send(signed, part);
    assert.ok(res.ok, `part ${i + 1}: ${res.status}`);
    await res.body?.cancel();
  }
  assert.deepEqual(
    (await multipart.listParts(object, uploadId, ctx)).map((p) => [p.partNumber, p.size]),
    [
      [1, FIVE_MIB],
      [2, 1000],
    ],
  );
  await assert.rejects(
    multipart.complete({ object, uploadId, expectedSize: total + 1 }, ctx),
    (e) => e instanceof ValetError && e.code === 'upload_rejected',
  );
  assert.equal(await t.driver.head(object, ctx), undefined, 'a refused completion leaves no object');
  const again = await multipart.create({ object }, ctx);
  for (const [i, part] of parts.entries()) {
    const res = await t.send(
      await multipart.signPart(
        { object, uploadId: again, partNumber: i + 1, size: part.length, ttl: 60 },
        ctx,
      ),
      part,
    );
    await res.body?.cancel();
  }
  await multipart.complete({ object, uploadId: again, expectedSize: total }, ctx);
  assert.equal((await t.driver.head(object, ctx))?.size, total);
  // Stale and aborted uploads, each holding a part: the store drops the parts, and no object appears.
  const stale = await startedWithPart(t, 'stale.bin');
  assert.ok((await multipart.abortStale(Date.now() + 60_000, ctx)) >= 1);
  assert.deepEqual(await heldAfterAbort(t, 'stale.bin', stale), []);
  const aborted = await startedWithPart(t, 'aborted.bin');
  await multipart.abort(t.name('aborted.bin'), aborted, ctx);
  assert.deepEqual(await heldAfterAbort(t, 'aborted.bin', aborted), []);
  assert.equal(await t.driver.head(t.name('aborted.bin'), ctx), undefined);
}

/** A multipart upload of `suffix` with one part held; returns its id. */
async function startedWithPart(t: Toolkit, suffix: string): Promise<string> {
  const multipart = t.driver.resumable as MultipartUploads;
  const object = t.name(suffix);
  const uploadId = await multipart.create({ object }, t.context());
  const part = randomBytes(100);
  const signed = await multipart.signPart(
    { object, uploadId, partNumber: 1, size: part.length, ttl: 60 },
    t.context(),
  );
  const res = await t.send(signed, part);
  assert.ok(res.ok, `part of ${suffix}: ${res.status}`);
  await res.body?.cancel();
  assert.equal((await multipart.listParts(object, uploadId, t.context())).length, 1);
  return uploadId;
}

/** The parts an aborted upload still has: none (a store may also refuse to list an upload it dropped). */
async function heldAfterAbort(t: Toolkit, suffix: string, uploadId: string): Promise<unknown[]> {
  const multipart = t.driver.resumable as MultipartUploads;
  return multipart.listParts(t.name(suffix), uploadId, t.context()).catch(() => []);
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
