import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ValetError } from '../token/errors.js';
import { refused, type Toolkit } from './contract-toolkit.js';
import type { MultipartUploads } from './types.js';

/** The contract suite's resumable uploads (see contract.ts): tus, and multipart through the issuer. */

const FIVE_MIB = 5 * 1024 * 1024;

/** An upload of one part of 100 bytes. */
const ONE_PART = { size: 100, partSize: FIVE_MIB };

export async function tusUpload(t: Toolkit): Promise<void> {
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

export async function multipartUpload(t: Toolkit): Promise<void> {
  const multipart = t.driver.resumable;
  assert.ok(multipart && multipart.protocol !== 'tus');
  const object = t.name('multipart.bin');
  const parts = [randomBytes(FIVE_MIB), randomBytes(1000)];
  const total = FIVE_MIB + 1000;
  const ctx = t.context();
  const layout = { size: total, partSize: FIVE_MIB };
  const uploadId = await multipart.create(
    { object, contentType: 'application/octet-stream', ...layout },
    ctx,
  );
  for (const [i, part] of parts.entries()) {
    const signed = await multipart.signPart(
      { object, uploadId, partNumber: i + 1, size: part.length, ttl: 60, offset: i * FIVE_MIB, total },
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
      const held = await multipart.listParts(object, uploadId, ctx, layout);
      assert.equal(held.find((p) => p.partNumber === i + 1)?.size, part.length - 1);
    }
    const res = await t.send(signed, part);
    assert.ok(res.ok, `part ${i + 1}: ${res.status}`);
    await res.body?.cancel();
  }
  assert.deepEqual(
    (await multipart.listParts(object, uploadId, ctx, layout)).map((p) => [p.partNumber, p.size]),
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
  const again = await multipart.create({ object, ...layout }, ctx);
  for (const [i, part] of parts.entries()) {
    const res = await t.send(
      await multipart.signPart(
        {
          object,
          uploadId: again,
          partNumber: i + 1,
          size: part.length,
          ttl: 60,
          offset: i * FIVE_MIB,
          total,
        },
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
  assert.ok(multipart.abortStale, 'a store that lists its uploads aborts the stale ones');
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
  const uploadId = await multipart.create({ object, ...ONE_PART }, t.context());
  const part = randomBytes(100);
  const signed = await multipart.signPart(
    { object, uploadId, partNumber: 1, size: part.length, ttl: 60, offset: 0, total: 100 },
    t.context(),
  );
  const res = await t.send(signed, part);
  assert.ok(res.ok, `part of ${suffix}: ${res.status}`);
  await res.body?.cancel();
  assert.equal((await multipart.listParts(object, uploadId, t.context(), ONE_PART)).length, 1);
  return uploadId;
}

/** The parts an aborted upload still has: none (a store may also refuse to list an upload it dropped). */
async function heldAfterAbort(t: Toolkit, suffix: string, uploadId: string): Promise<unknown[]> {
  const multipart = t.driver.resumable as MultipartUploads;
  return multipart.listParts(t.name(suffix), uploadId, t.context(), ONE_PART).catch(() => []);
}
