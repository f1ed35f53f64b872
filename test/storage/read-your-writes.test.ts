// Read-your-writes on Valet storage: when upload() resolves, the issuer has recorded the object
// (from the receipt storage answered with), so it is listed, shareable, readable and counted at
// once, with no polling; the webhook's own delivery of the same event changes nothing and the
// app's hook runs once per upload.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, startSystem } from '../helpers/system.js';

describe('read-your-writes on Valet storage', () => {
  it('lists, shares and reads an upload as soon as upload() resolves, 100 times in a row', async (t) => {
    const hooked: string[] = [];
    const system = await startSystem(t, {
      issuer: {
        quota: { maxObjects: 102 },
        onUploadComplete: (upload) => void hooked.push(upload.object),
      },
    });
    const alice = system.client('alice');
    for (let i = 0; i < 100; i++) {
      const { key } = await alice.upload(new Blob([`file ${i}`], { type: 'text/plain' }), {
        name: `f${i}.txt`,
      });
      const link = await alice.share(key, { ttl: 60 });
      if (i % 20 === 0) {
        assert.ok(
          (await alice.list()).some((o) => o.key === key),
          `listed at once: ${key}`,
        );
        assert.equal(await (await fetch(link.url)).text(), `file ${i}`);
      }
    }
    // A resumable (tus) upload too.
    const big = await alice.upload(new Blob(['resumable'], { type: 'text/plain' }), {
      name: 'r.txt',
      resumable: true,
    });
    await alice.share(big.key, { ttl: 60 });
    // Counted in the quota at once: 101 objects of 102, so one more fits and the next does not.
    await alice.upload(new Blob(['last']), { name: 'last.txt' });
    await assert.rejects(
      alice.upload(new Blob(['over']), { name: 'over.txt' }),
      (e: Error & { code?: string }) => e.code === 'quota_exceeded',
    );
    // The webhook delivered the same events: recorded once each, and the hook ran once per upload.
    await eventually(async () =>
      (await system.issuer.records.listEvents()).length >= 102 ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(
      (await system.issuer.records.listEvents()).filter((e) => e.type === 'object.created').length,
      102,
    );
    assert.equal(hooked.length, 102);
    assert.equal(new Set(hooked).size, 102);
  });

  it('drops a deleted object from the listing as soon as delete() resolves, 50 times in a row', async (t) => {
    const system = await startSystem(t);
    const alice = system.client('alice');
    for (let i = 0; i < 50; i++) {
      const { key } = await alice.upload(new Blob([`file ${i}`]), { name: `d${i}.txt` });
      await alice.delete(key);
      assert.ok(!(await alice.list()).some((o) => o.key === key), `not listed after delete(): ${key}`);
    }
    // The webhook's own delivery of the same events changes nothing: one deletion each.
    await eventually(async () =>
      (await system.issuer.records.listEvents()).filter((e) => e.type === 'object.deleted').length >= 50
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events = await system.issuer.records.listEvents();
    assert.equal(events.filter((e) => e.type === 'object.deleted').length, 50);
    // A deletion's receipt is no upload's, and the other way round.
    const put = await system.issuer.mint('alice', { op: 'put', name: 'x.txt', size: 1 });
    const stored = (await (await fetch(put.url, { method: 'PUT', body: 'x' })).json()) as {
      receipt: unknown;
    };
    const del = await system.issuer.mint('alice', { op: 'delete', key: 'users/alice/x.txt' });
    const deleted = (await (await fetch(del.url, { method: 'DELETE' })).json()) as { receipt: unknown };
    const complete = async (id: string, receipt: unknown) => {
      const response = await fetch(`${system.served.url}/v1/keys/${id}/complete`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
        body: JSON.stringify({ receipt }),
      });
      return { status: response.status, body: (await response.json()) as { error: { message: string } } };
    };
    const unusedPut = await system.issuer.mint('alice', { op: 'put', name: 'y.txt', size: 1 });
    const asUpload = await complete(unusedPut.id, deleted.receipt);
    assert.equal(asUpload.status, 400);
    assert.match(asUpload.body.error.message, /another upload/);
    const unusedDelete = await system.issuer.mint('alice', { op: 'delete', key: 'users/alice/x.txt' });
    const asDeletion = await complete(unusedDelete.id, stored.receipt);
    assert.equal(asDeletion.status, 400);
    assert.match(asDeletion.body.error.message, /another deletion/);
  });

  it('refuses a forged receipt, and one for another upload', async (t) => {
    const system = await startSystem(t);
    const alice = system.client('alice');
    const first = await alice.upload(new Blob(['one']), { name: 'one.txt' });
    const put = await system.issuer.mint('alice', { op: 'put', name: 'two.txt', size: 3 });
    const stored = (await (await fetch(put.url, { method: 'PUT', body: 'two' })).json()) as {
      receipt: { event: string; signature: string };
    };
    const complete = (id: string, receipt: unknown) =>
      fetch(`${system.served.url}/v1/keys/${id}/complete`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
        body: JSON.stringify({ receipt }),
      });
    // Another upload's receipt, for a key whose upload has not happened.
    const unused = await system.issuer.mint('alice', { op: 'put', name: 'three.txt', size: 5 });
    const other = await complete(unused.id, stored.receipt);
    assert.equal(other.status, 400);
    // Someone else's key is no one's business.
    assert.equal(await complete(first.grant.id, stored.receipt).then((r) => r.status), 200);
    // A forged event under the real signature does not verify; the issuer then waits for the real event.
    const forged = { ...stored.receipt, event: stored.receipt.event.replace('"size":3', '"size":30') };
    const answer = (await (await complete(put.id, forged)).json()) as { size: number };
    assert.equal(answer.size, 3, 'what storage reported, not what the client claimed');
  });
});
