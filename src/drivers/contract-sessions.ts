import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ValetError } from '../token/errors.js';
import type { Toolkit } from './contract-toolkit.js';
import type { MultipartUploads } from './types.js';

/**
 * The contract suite's resumable upload on a store that takes it as one session of chunks in
 * order (GCS resumable sessions): the store holds a prefix of the object and makes the object
 * when the last byte comes; the issuer learns from it which parts are whole.
 */

const FIVE_MIB = 5 * 1024 * 1024;

export async function sessionUpload(t: Toolkit): Promise<void> {
  const sessions = t.driver.resumable as MultipartUploads;
  const object = t.name('session.bin');
  const parts = [randomBytes(FIVE_MIB), randomBytes(1000)];
  const total = FIVE_MIB + 1000;
  const layout = { size: total, partSize: FIVE_MIB };
  const ctx = t.context();
  const part = (uploadId: string, n: number) =>
    sessions.signPart(
      {
        object,
        uploadId,
        partNumber: n,
        size: (parts[n - 1] as Buffer).length,
        ttl: 60,
        offset: (n - 1) * FIVE_MIB,
        total,
      },
      ctx,
    );
  const send = async (uploadId: string, n: number, body = parts[n - 1] as Buffer) => {
    const res = await t.send(await part(uploadId, n), body);
    await res.body?.cancel();
    return res.status;
  };
  const uploadId = await sessions.create({ object, contentType: 'application/octet-stream', ...layout }, ctx);
  assert.deepEqual(
    await sessions.listParts(object, uploadId, ctx, layout),
    [],
    'a new session holds nothing',
  );
  // A part whose body is not its range is refused; the session holds nothing more.
  assert.ok((await send(uploadId, 1, (parts[0] as Buffer).subarray(1))) >= 400);
  assert.equal(await send(uploadId, 1), 308, 'a part before the last: stored, the object not yet whole');
  assert.deepEqual(
    (await sessions.listParts(object, uploadId, ctx, layout)).map((p) => [p.partNumber, p.size]),
    [[1, FIVE_MIB]],
  );
  await assert.rejects(
    sessions.complete({ object, uploadId, expectedSize: total }, ctx),
    (e) => e instanceof ValetError && e.code === 'precondition_failed',
  );
  assert.equal(await t.driver.head(object, ctx), undefined, 'no object before the last byte');
  // A part sent again (an interrupted client resending it) changes nothing.
  assert.equal(await send(uploadId, 1), 308);
  assert.ok((await send(uploadId, 2)) < 300, 'the last part makes the object');
  assert.deepEqual(
    (await sessions.listParts(object, uploadId, ctx, layout)).map((p) => [p.partNumber, p.size]),
    [
      [1, FIVE_MIB],
      [2, 1000],
    ],
  );
  await sessions.complete({ object, uploadId, expectedSize: total }, ctx);
  assert.equal((await t.driver.head(object, ctx))?.size, total);
  const read = await t.send(await t.sign({ op: 'get', object }));
  assert.deepEqual(Buffer.from(await read.arrayBuffer()), Buffer.concat(parts));
  // A completion that finds another size than declared removes the object.
  await assert.rejects(
    sessions.complete({ object, uploadId, expectedSize: total + 1 }, ctx),
    (e) => e instanceof ValetError && e.code === 'upload_rejected',
  );
  assert.equal(await t.driver.head(object, ctx), undefined, 'a refused completion leaves no object');
  // A cancelled session takes nothing more, and no object appears.
  const cancelled = await sessions.create({ object, ...layout }, ctx);
  assert.equal(await send(cancelled, 1), 308);
  await sessions.abort(object, cancelled, ctx);
  await assert.rejects(
    sessions.listParts(object, cancelled, ctx, layout),
    (e) => e instanceof ValetError && e.code === 'upload_gone',
  );
  assert.ok((await send(cancelled, 2)) >= 400, 'a cancelled session refuses its last part');
  assert.equal(await t.driver.head(object, ctx), undefined);
}
