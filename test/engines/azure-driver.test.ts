// The Azure driver on a real Azurite: the driver contract, then what Azure itself refuses of the
// SAS tokens the driver signs (tampered, expired, another operation, another blob), the download
// headers a read SAS makes Azure answer with, and block uploads resumed from the store's list.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AzureDriver } from '../../src/drivers/azure/index.js';
import { driverContract } from '../../src/drivers/contract.js';
import type { SignedRequest } from '../../src/drivers/types.js';
import { buildClaims, type MintOptions } from '../../src/token/mint.js';
import { type Azurite, azuriteContainer, startAzurite } from '../helpers/azurite.js';

driverContract('Azure Blob Storage (Azurite)', async () => {
  const azurite = await startAzurite();
  return { driver: await azuriteContainer(azurite, 'contract'), close: () => azurite.stop() };
});

async function sign(
  driver: AzureDriver,
  options: Omit<MintOptions, 'subject' | 'ttl' | 'now'> & { ttl?: number; now?: number },
  type?: string,
): Promise<SignedRequest> {
  const now = options.now ?? Date.now();
  const { now: _now, ttl, ...rest } = options;
  const claims = buildClaims({ subject: 'alice', ttl: ttl ?? 60, ...rest, now: () => now });
  return driver.sign(claims, {
    now,
    ...(type !== undefined && { contentType: type }),
    objectType: async () => type,
    valetKey: () => Promise.reject(new Error('Azure never asks for a valet key')),
  });
}

async function send(
  request: SignedRequest,
  body?: Uint8Array | string,
  url = request.url,
): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.delete('content-length');
  return fetch(url, { method: request.method, headers, ...(body !== undefined && { body }) });
}

async function status(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

describe('Azure driver on Azurite', () => {
  let azurite: Azurite;
  let azure: AzureDriver;
  before(async () => {
    azurite = await startAzurite();
    azure = await azuriteContainer(azurite, 'valet-driver');
  });
  after(() => azurite?.stop());

  it('signs service SAS tokens for one blob with the narrowest permission, a start and an expiry', async () => {
    const now = Date.parse('2026-11-29T10:00:00Z');
    const put = new URL(
      (await sign(azure, { op: 'put', object: 'a/b c.txt', size: 3, now }, 'text/plain')).url,
    );
    assert.equal(put.pathname, '/devstoreaccount1/valet-driver/a/b%20c.txt');
    assert.equal(put.searchParams.get('sp'), 'cw');
    assert.equal(put.searchParams.get('sr'), 'b', 'one blob, not the container');
    assert.equal(
      put.searchParams.get('st'),
      '2026-11-29T09:59:00Z',
      'starts a minute before the issuer clock',
    );
    assert.equal(put.searchParams.get('se'), '2026-11-29T10:01:00Z', "the key's own expiry");
    assert.equal(put.searchParams.get('spr'), null, 'http endpoint: no https-only flag');
    const createOnly = new URL(
      (await sign(azure, { op: 'put', object: 'x', size: 1, noOverwrite: true, now })).url,
    );
    assert.equal(createOnly.searchParams.get('sp'), 'c');
    const read = new URL((await sign(azure, { op: 'get', object: 'x', now }, 'text/html')).url);
    assert.equal(read.searchParams.get('sp'), 'r');
    assert.equal(read.searchParams.get('rsct'), 'application/octet-stream', 'HTML is never served as HTML');
    assert.match(read.searchParams.get('rscd') ?? '', /^attachment; filename="x"$/);
    assert.equal(
      new URL((await sign(azure, { op: 'delete', object: 'x', now })).url).searchParams.get('sp'),
      'd',
    );
  });

  it('signs https-only tokens for an https endpoint', async () => {
    const { AzureDriver } = await import('../../src/drivers/azure/index.js');
    const remote = new AzureDriver({
      container: 'uploads',
      accountName: 'example',
      accountKey: Buffer.from('k'.repeat(64)).toString('base64'),
    });
    const url = new URL((await sign(remote, { op: 'get', object: 'x' })).url);
    assert.equal(url.origin, 'https://example.blob.core.windows.net');
    assert.equal(url.searchParams.get('spr'), 'https');
  });

  it('has Azure refuse a tampered signature, an expired SAS, a read SAS used to write, and another blob’s SAS', async () => {
    const object = 'refusals/one.txt';
    const put = await sign(azure, { op: 'put', object, size: 5 }, 'text/plain');
    const tampered = put.url.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    assert.equal(await status(await send(put, 'hello', tampered)), 403, 'tampered signature');
    const expired = await sign(
      azure,
      { op: 'put', object, size: 5, now: Date.now() - 3600_000 },
      'text/plain',
    );
    assert.equal(await status(await send(expired, 'hello')), 403, 'expired');
    const read = await sign(azure, { op: 'get', object });
    assert.equal(await status(await send({ ...put, url: read.url }, 'hello')), 403, 'read SAS used to write');
    const other = await sign(azure, { op: 'put', object: 'refusals/other.txt', size: 5 }, 'text/plain');
    const elsewhere = other.url.replace('refusals/other.txt', 'refusals/one.txt');
    assert.equal(await status(await send(put, 'hello', elsewhere)), 403, "another blob's SAS");
    const widened = put.url.replace('sp=cw', 'sp=racwd');
    assert.equal(await status(await send(put, 'hello', widened)), 403, 'permissions widened');
    assert.equal(await azure.head(object), undefined, 'nothing was stored');
    assert.equal(await status(await send(put, 'hello')), 201, 'the untouched SAS works');
  });

  it('has Azure refuse to replace a blob under a create-only key', async () => {
    const object = 'create-only/one.txt';
    assert.equal(
      await status(await send(await sign(azure, { op: 'put', object, size: 5 }, 'text/plain'), 'first')),
      201,
    );
    const again = await sign(azure, { op: 'put', object, size: 6, noOverwrite: true }, 'text/plain');
    assert.equal(await status(await send(again, 'second')), 403);
    const res = await send(await sign(azure, { op: 'get', object }));
    assert.equal(await res.text(), 'first', 'the earlier version is untouched');
  });

  it('makes Azure answer a read with a download name and a display-safe type', async () => {
    const object = 'serving/résumé.svg';
    const put = await sign(azure, { op: 'put', object, size: 6 }, 'image/svg+xml');
    assert.equal(await status(await send(put, '<svg/>')), 201);
    const res = await send(
      await sign(azure, { op: 'get', object, filename: 'CV "final".svg' }, 'image/svg+xml'),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(
      res.headers.get('content-disposition'),
      `attachment; filename="CV _final_.svg"; filename*=UTF-8''CV%20%22final%22.svg`,
    );
    await res.body?.cancel();
    const png = await sign(azure, { op: 'put', object: 'serving/p.png', size: 4 }, 'image/png');
    assert.equal(await status(await send(png, 'abcd')), 201);
    const shown = await send(await sign(azure, { op: 'get', object: 'serving/p.png' }, 'image/png'));
    assert.equal(shown.headers.get('content-type'), 'image/png');
    await shown.body?.cancel();
  });

  it("stores as the blob's MD5 whatever its writer says: why no digest is enforced on Azure", async () => {
    const object = 'digest/claimed.txt';
    const put = await sign(azure, { op: 'put', object, size: 5 }, 'text/plain');
    const claimed = Buffer.from('0123456789abcdef').toString('base64');
    // A single Put Blob checks a Content-MD5 it is given…
    const checked = await send(
      { ...put, headers: { ...put.headers, 'x-ms-blob-content-md5': claimed } },
      'hello',
    );
    assert.equal(await status(checked), 400);
    // …but the same SAS lets its holder write a block and commit it under any MD5 it likes.
    const id = encodeURIComponent(Buffer.from('b1').toString('base64'));
    assert.equal(
      await status(await fetch(`${put.url}&comp=block&blockid=${id}`, { method: 'PUT', body: 'other' })),
      201,
    );
    const committed = await fetch(`${put.url}&comp=blocklist`, {
      method: 'PUT',
      headers: { 'x-ms-blob-content-md5': claimed, 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${decodeURIComponent(id)}</Latest></BlockList>`,
    });
    assert.equal(await status(committed), 201);
    const properties = await azure.container.getBlobClient(object).getProperties();
    assert.equal(Buffer.from(properties.contentMD5 ?? new Uint8Array()).toString('base64'), claimed);
    assert.equal(await (await send(await sign(azure, { op: 'get', object }))).text(), 'other');
    assert.equal(azure.enforcement().sha256, 'none');
  });

  it('resumes blocks from the list Azure holds, and commits only the upload’s own blocks in order', async () => {
    const blocks = azure.resumable;
    const object = 'blocks/big.bin';
    const context = { now: Date.now(), issuerKey: () => Promise.reject(new Error('unused')) };
    const parts = [randomBytes(1000), randomBytes(1000), randomBytes(10)];
    const layout = { size: 2010, partSize: 1000 };
    const uploadId = await blocks.create({ object, contentType: 'application/pdf', ...layout }, context);
    const other = await blocks.create({ object, ...layout }, context);
    const put = async (id: string, n: number, body: Uint8Array) => {
      const signed = await blocks.signPart(
        {
          object,
          uploadId: id,
          partNumber: n,
          size: body.length,
          ttl: 60,
          offset: (n - 1) * 1000,
          total: 2010,
        },
        context,
      );
      assert.equal(new URL(signed.url).searchParams.get('sp'), 'w');
      return status(await send(signed, body));
    };
    assert.equal(await put(uploadId, 2, parts[1] as Uint8Array), 201);
    assert.equal(await put(other, 1, randomBytes(7)), 201);
    // "Interrupted": the list says which parts are held; only the missing ones are sent.
    assert.deepEqual(
      (await blocks.listParts(object, uploadId, context, layout)).map((p) => [p.partNumber, p.size]),
      [[2, 1000]],
    );
    assert.equal(await azure.head(object), undefined, 'uncommitted blocks are no object');
    assert.equal(await put(uploadId, 1, parts[0] as Uint8Array), 201);
    assert.equal(await put(uploadId, 3, parts[2] as Uint8Array), 201);
    await blocks.complete({ object, uploadId, expectedSize: 2010, contentType: 'application/pdf' }, context);
    const head = await azure.head(object);
    assert.equal(head?.size, 2010);
    assert.equal(head?.contentType, 'application/pdf');
    const body = Buffer.from(await (await send(await sign(azure, { op: 'get', object }))).arrayBuffer());
    assert.deepEqual(body, Buffer.concat(parts));
  });

  it('commits a create-only block upload only if no blob exists, and leaves the blob alone', async () => {
    const blocks = azure.resumable;
    const object = 'blocks/exists.txt';
    const context = { now: Date.now(), issuerKey: () => Promise.reject(new Error('unused')) };
    assert.equal(
      await status(await send(await sign(azure, { op: 'put', object, size: 5 }, 'text/plain'), 'first')),
      201,
    );
    const uploadId = await blocks.create({ object, size: 3, partSize: 3 }, context);
    const signed = await blocks.signPart(
      { object, uploadId, partNumber: 1, size: 3, ttl: 60, offset: 0, total: 3 },
      context,
    );
    assert.equal(await status(await send(signed, 'new')), 201);
    await assert.rejects(
      blocks.complete({ object, uploadId, expectedSize: 3, noOverwrite: true }, context),
      (e: { code?: string }) => e.code === 'precondition_failed',
    );
    await blocks.abort(object, uploadId, context);
    const res = await send(await sign(azure, { op: 'get', object }));
    assert.equal(await res.text(), 'first');
  });
});
