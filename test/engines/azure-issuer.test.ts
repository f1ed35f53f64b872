// The whole flow client → issuer → Azurite with the Azure driver: SAS tokens, uploads verified
// from the store when the client reports them done, block uploads resumed after an interruption,
// create-only refused by Azure itself, and rules the store cannot enforce refused at configuration.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import type { AzureDriver } from '../../src/drivers/azure/index.js';
import { createIssuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { Rule } from '../../src/issuer/rules.js';
import { isValetError, ValetError } from '../../src/token/errors.js';
import { type Azurite, azuriteContainer, startAzurite } from '../helpers/azurite.js';
import { testKey } from '../helpers/keys.js';
import { interruptedAndResumed } from '../helpers/resumable-flow.js';
import { refusal, servedDriverIssuer, userAuth } from '../helpers/system.js';

const RULES: Record<string, Rule> = {
  upload: {
    op: 'put',
    prefix: 'users/{subject}/',
    maxSize: 1024 * 1024,
    contentTypes: ['image/*', 'text/plain'],
    accept: ['once', 'revocation'],
  },
  read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
  remove: { op: 'delete', prefix: 'users/{subject}/', accept: ['once', 'revocation'] },
  share: { op: 'share', prefix: 'users/{subject}/', accept: ['revocation'] },
};

describe('issuer with the Azure driver, on Azurite', () => {
  let azurite: Azurite;
  let azure: AzureDriver;
  before(async () => {
    azurite = await startAzurite();
    azure = await azuriteContainer(azurite, 'valet-issuer');
  });
  after(() => azurite?.stop());

  const issuerFor = (t: import('node:test').TestContext, options: Partial<IssuerOptions> = {}) =>
    servedDriverIssuer(t, azure, { rules: RULES, ...options });

  it('refuses, at configuration, a rule that sets what Azure cannot enforce unless it accepts it', async () => {
    for (const rule of [
      { op: 'put', prefix: 'u/', accept: ['revocation'] } as Rule, // single use by default
      { op: 'get', prefix: 'u/' } as Rule, // revocation
      { op: 'put', prefix: 'u/', once: false, requireSha256: true, accept: ['revocation'] } as Rule,
    ]) {
      await assert.rejects(
        createIssuer({
          signingKeys: [(await testKey()).jwk],
          database: ':memory:',
          driver: azure,
          storageSecret: 's'.repeat(43),
          authenticate: userAuth,
          rules: { r: rule },
        }),
        (e) => isValetError(e, 'invalid_options') && /cannot enforce/.test(e.message),
      );
    }
    // Size, type and create-only are not refused: Azure or the issuer enforces them.
    const issuer = await createIssuer({
      signingKeys: [(await testKey()).jwk],
      database: ':memory:',
      driver: azure,
      storageSecret: 's'.repeat(43),
      authenticate: userAuth,
      rules: {
        r: {
          op: 'put',
          prefix: 'u/',
          maxSize: 10,
          contentTypes: ['text/plain'],
          createOnly: true,
          accept: ['once', 'revocation'],
        },
      },
    });
    await issuer.close();
  });

  it('uploads straight to Azure, verifies the blob, lists, shares, downloads and deletes it', async (t) => {
    const { url } = await issuerFor(t);
    const alice = createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50 });
    const data = randomBytes(200_000);
    const result = await alice.upload(new Blob([data], { type: 'image/png' }), { name: 'p.png' });
    assert.equal(result.key, 'users/alice/p.png');
    assert.equal(result.size, data.length);
    assert.equal(result.sha256, null, 'Azure keeps no SHA-256: null, not ""');
    assert.deepEqual(
      (await alice.list()).map((o) => [o.key, o.size, o.contentType, o.sha256]),
      [['users/alice/p.png', data.length, 'image/png', null]],
    );
    const download = await alice.download(result.key);
    assert.deepEqual(Buffer.from(await (await download.blob()).arrayBuffer()), data);
    const link = await alice.share(result.key, { ttl: 60 });
    const preview = await fetch(link.url, { method: 'HEAD', redirect: 'manual' });
    assert.equal(preview.status, 302, 'a link preview (HEAD) gets the redirect too');
    const shared = await fetch(link.url);
    assert.equal(shared.status, 200);
    // Shown inline, as Valet storage shows an image; a download when asked for one.
    assert.equal(shared.headers.get('content-disposition'), 'inline; filename="p.png"');
    assert.deepEqual(Buffer.from(await shared.arrayBuffer()), data);
    const asked = await fetch((await alice.readUrl(result.key, { disposition: 'attachment' })).url);
    await asked.body?.cancel();
    assert.equal(asked.headers.get('content-disposition'), 'attachment; filename="p.png"');
    const bob = createClient({ issuer: url, getToken: () => 'user:bob', retryDelay: 50 });
    assert.equal(await refusal(bob.download(result.key)), 'forbidden');
    assert.equal(
      await refusal(alice.upload(new Blob(['<b>x</b>'], { type: 'text/html' }), { name: 'x.html' })),
      'unsupported_media_type',
    );
    await alice.delete(result.key);
    assert.equal(await azure.head(result.key), undefined);
    assert.deepEqual(await alice.list(), [], 'the deletion is recorded');
  });

  it('removes an upload that breaks its key when the client reports it done (422)', async (t) => {
    const { issuer, url } = await issuerFor(t);
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'big.txt',
      size: 5,
      contentType: 'text/plain',
    });
    // Azure takes any body under the SAS: 11 bytes where the key said 5, and another type.
    const res = await fetch(minted.url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'text/html' },
      body: 'much longer',
    });
    assert.equal(res.status, 201);
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(complete.status, 422);
    assert.equal(((await complete.json()) as { error: { code: string } }).error.code, 'upload_rejected');
    assert.equal(await azure.head('users/alice/big.txt'), undefined, 'the blob was deleted');
    assert.deepEqual(await issuer.list('alice'), []);
  });

  it('removes an oversize upload its client never reported, once its key has expired', async (t) => {
    let offset = 0;
    const { issuer } = await issuerFor(t, { now: () => Date.now() + offset });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'quiet.txt',
      size: 5,
      contentType: 'text/plain',
    });
    const res = await fetch(minted.url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'text/plain' },
      body: randomBytes(100_000),
    });
    assert.equal(res.status, 201, 'Azure takes any length under the SAS');
    const kept = await issuer.mint('alice', {
      op: 'put',
      name: 'fine.txt',
      size: 4,
      contentType: 'text/plain',
    });
    assert.equal(
      (
        await fetch(kept.url, {
          method: 'PUT',
          headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'text/plain' },
          body: 'fine',
        })
      ).status,
      201,
    );
    // Neither client reports. Once the keys have expired (and the minute to report has passed)…
    assert.equal(await issuer.checkUnreportedUploads(), 0);
    offset = 400_000;
    assert.equal(await issuer.checkUnreportedUploads(), 2);
    assert.equal(await azure.head('users/alice/quiet.txt'), undefined, 'the oversize blob is gone');
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => [o.key, o.size]),
      [['users/alice/fine.txt', 4]],
      'the one that keeps its key is recorded',
    );
  });

  it('looks again at a SAS used after its completion: an overwrite that breaks it is removed', async (t) => {
    let offset = 0;
    const { issuer, url } = await issuerFor(t, { now: () => Date.now() + offset });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'after.txt',
      size: 5,
      contentType: 'text/plain',
    });
    const put = (body: string | Buffer, type: string) =>
      fetch(minted.url, {
        method: 'PUT',
        headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': type },
        body,
      });
    assert.equal((await put('hello', 'text/plain')).status, 201);
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice' },
    });
    assert.equal(complete.status, 200);
    // The same SAS, used again: 5 MiB of HTML where 5 bytes of text were allowed.
    assert.equal((await put(Buffer.alloc(5 * 2 ** 20, 0x3c), 'text/html')).status, 201);
    offset = 400_000;
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.equal(await azure.head('users/alice/after.txt'), undefined, 'the blob is gone');
    assert.deepEqual(await issuer.list('alice'), [], 'and so is the record of the version it replaced');
    assert.equal((await issuer.records.usage('alice', Date.now() + offset)).bytes, 0);
  });

  it("removes a whole blob written with a part's SAS stripped of comp and blockid", async (t) => {
    let offset = 0;
    const rules: Record<string, Rule> = {
      big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
    };
    const { issuer, url } = await issuerFor(t, { rules, now: () => Date.now() + offset });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'stray.bin',
      size: 9 * 2 ** 20,
      resumable: true,
    });
    const auth = { authorization: 'Bearer user:alice', 'content-type': 'application/json' };
    const signed = (await (
      await fetch(`${url}/v1/uploads/${minted.id}/parts`, {
        method: 'POST',
        headers: auth,
        body: '{"part":1}',
      })
    ).json()) as { url: string };
    // What is left of a part's URL without its block: a blob SAS with write permission.
    const stripped = new URL(signed.url);
    stripped.searchParams.delete('comp');
    stripped.searchParams.delete('blockid');
    const whole = await fetch(stripped, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      // The upload's own size: nothing but the part's key could tell it from a real upload.
      body: randomBytes(9 * 2 ** 20),
    });
    assert.equal(whole.status, 201, 'Azure takes it: a SAS cannot tell Put Blob from Put Block');
    // Cancelled: nothing of this upload may stay.
    assert.equal(
      (await fetch(`${url}/v1/uploads/${minted.id}`, { method: 'DELETE', headers: auth })).status,
      204,
    );
    offset = 25 * 3600_000; // every key and the upload's lifetime have lapsed
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.equal(await azure.head('users/alice/stray.bin'), undefined, 'the stray blob is removed');
    assert.deepEqual(await issuer.list('alice'), []);
  });

  it("refuses a completion whose blob came from a copy, without telling the other blob's size", async (t) => {
    const { issuer, url } = await issuerFor(t);
    // Bob's private blob, and a put SAS of Alice's for another name.
    await azure.container
      .getBlockBlobClient('users/bob/private.txt')
      .upload('bob only: 31 bytes of a secret', 30);
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'copied.txt',
      size: 5,
      contentType: 'text/plain',
    });
    const source = azure.container.getBlobClient('users/bob/private.txt').url;
    const copy = await fetch(minted.url, { method: 'PUT', headers: { 'x-ms-copy-source': source } });
    // Azure requires a public or authorised source; Azurite copies it anyway. Valet must not
    // depend on the store refusing it.
    assert.equal(copy.status, 202, 'Azurite copies a private blob with no source SAS');
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice' },
    });
    assert.equal(complete.status, 422);
    const { error } = (await complete.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'upload_rejected');
    assert.match(error.message, /copied from another object/);
    assert.doesNotMatch(error.message, /30|31/, "the other blob's size is never told");
    assert.equal(await azure.head('users/alice/copied.txt'), undefined, 'the copy is removed');
    assert.deepEqual(await issuer.list('alice'), []);
    assert.ok((await azure.head('users/bob/private.txt'))?.size === 30, "Bob's blob is untouched");
  });

  it('has Azure refuse a create-only upload over an existing blob, which stays as it was', async (t) => {
    const rules: Record<string, Rule> = {
      ...RULES,
      upload: { ...(RULES.upload as Rule), createOnly: true } as Rule,
    };
    const { url } = await issuerFor(t, { rules });
    const alice = createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50, retries: 0 });
    await alice.upload(new Blob(['first'], { type: 'text/plain' }), { name: 'once.txt' });
    const refused = await alice
      .upload(new Blob(['second'], { type: 'text/plain' }), { name: 'once.txt' })
      .catch((e: ValetError) => e);
    assert.ok(refused instanceof ValetError);
    assert.equal(refused.code, 'forbidden');
    assert.match(
      refused.message,
      /the store answered 403 \(AuthorizationPermissionMismatch\)/,
      "Azure's reason",
    );
    const back = await alice.download('users/alice/once.txt');
    assert.equal(await (await back.blob()).text(), 'first');
  });

  it('sends a 20 MiB upload as blocks signed by the issuer, resumed after an interruption', async (t) => {
    const rules: Record<string, Rule> = {
      big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
      read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
    };
    const { issuer, url } = await issuerFor(t, { rules });
    const { id, result } = await interruptedAndResumed(url, {
      name: 'video.mp4',
      type: 'video/mp4',
      protocol: 'azure-blocks',
      before: async () => {
        assert.equal(await azure.head('users/alice/video.mp4'), undefined, 'no blob before the commit');
      },
    });
    const head = await azure.head(result.key);
    assert.equal(head?.size, result.size);
    assert.equal(head?.contentType, 'video/mp4');
    assert.ok(await issuer.records.getGrant(id));
  });

  it('refuses to commit blocks of the wrong size, and drops stale uploads', async (t) => {
    const rules: Record<string, Rule> = {
      big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
    };
    const { issuer, url } = await issuerFor(t, { rules });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'short.bin',
      size: 9 * 2 ** 20,
      resumable: true,
    });
    assert.equal(minted.upload?.protocol, 'azure-blocks');
    const auth = { authorization: 'Bearer user:alice', 'content-type': 'application/json' };
    for (const part of [1, 2]) {
      const signed = (await (
        await fetch(`${url}/v1/uploads/${minted.id}/parts`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ part }),
        })
      ).json()) as { url: string; method: string };
      // A block SAS binds no length: the client sends one byte short.
      const size = part === 1 ? 8 * 2 ** 20 - 1 : 2 ** 20;
      const res = await fetch(signed.url, { method: 'PUT', body: randomBytes(size) });
      assert.equal(res.status, 201);
    }
    const complete = await fetch(`${url}/v1/uploads/${minted.id}/complete`, {
      method: 'POST',
      headers: auth,
    });
    assert.equal(complete.status, 412, 'the issuer checks each block against its signed length');
    assert.equal(await azure.head('users/alice/short.bin'), undefined);
    const held = await azure.container
      .getBlockBlobClient('users/alice/short.bin')
      .getBlockList('uncommitted');
    assert.equal(held.uncommittedBlocks?.length, 2, 'the refused upload keeps its blocks (resumable)');
    // An issuer whose uploads live 1 s finds the unfinished upload stale and drops its blocks (at
    // its start, or at the latest when asked).
    await new Promise((r) => setTimeout(r, 1500));
    const { issuer: strict } = await issuerFor(t, { rules, uploadLifetime: 1 });
    await strict.abortStaleUploads();
    assert.deepEqual(
      await azure.resumable.listParts(
        'users/alice/short.bin',
        'any',
        { now: Date.now(), issuerKey: async () => '' },
        { size: 16 * 2 ** 20, partSize: 8 * 2 ** 20 },
      ),
      [],
    );
    const blocks = await azure.container
      .getBlockBlobClient('users/alice/short.bin')
      .getBlockList('all')
      .catch(() => undefined);
    assert.equal(blocks, undefined, 'no blob and no uncommitted blocks are left');
  });
});
