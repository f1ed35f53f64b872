import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ValetClaims } from '../token/claims.js';
import { readCases } from './contract-read.js';
import { multipartUpload, tusUpload } from './contract-resumable.js';
import { sessionUpload } from './contract-sessions.js';
import { bytes, refused, sha256, type Toolkit, toolkit } from './contract-toolkit.js';
import type { Constraint, StorageDriver } from './types.js';

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

    readCases(() => ({ setup, t }));

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
      if (resumable.protocol === 'gcs-resumable') return sessionUpload(t);
      return multipartUpload(t);
    });
  });
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
