import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { HashPool } from './file-hasher.js';
import { HEADER_SIZE, openFd } from './object-file.js';
import { type Received, Upload } from './upload-file.js';
import { uploadWriteBudget } from './write-budget.js';

const MiB = 1024 * 1024;

/** The server side of one upload: its request, its Upload, and how receive() ended. */
interface Served {
  req: http.IncomingMessage;
  upload: Upload;
  result: Promise<Received>;
  /** Every chunk receive() read, and whether it was a whole buffer of its own when read. */
  chunks: Array<{ chunk: Buffer; whole: boolean }>;
}

/** A pool that counts the hashing jobs it was given. */
class CountingPool extends HashPool {
  jobs = 0;
  override job() {
    this.jobs++;
    return super.job();
  }
}

/** Records the chunks a request's read() hands out. */
function spyChunks(req: http.IncomingMessage): Served['chunks'] {
  const chunks: Served['chunks'] = [];
  const read = req.read.bind(req);
  req.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk) {
      const whole = chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length;
      chunks.push({ chunk, whole: whole && chunk.length >= 4096 });
    }
    return chunk;
  };
  return chunks;
}

const hashes = new CountingPool(1);

describe('Upload.receive', () => {
  let server: http.Server;
  let port: number;
  let dir: string;
  let count = 0;
  const served: Served[] = [];
  const waiters: ((s: Served) => void)[] = [];
  const nextServed = () => new Promise<Served>((resolve) => waiters.push(resolve));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'valet-upload-'));
    server = http.createServer(async (req, res) => {
      const file = path.join(dir, `u${count++}`);
      const upload = new Upload(file, await openFd(file, 'wx+', 0o600), hashes);
      const chunks = spyChunks(req);
      const maxSize = Number(req.headers['x-max'] ?? Number.POSITIVE_INFINITY);
      const result = upload.receive(req, { maxSize, declaredSize: Number(req.headers['content-length']) });
      const s = { req, upload, result, chunks };
      served.push(s);
      waiters.shift()?.(s);
      result.then(
        (r) => res.end(r.sha256),
        (e: Error) => {
          // Closed after the answer, as storage does with a body it stopped reading: whether a
          // kept-alive connection would be closed by itself differs between Node versions.
          res.shouldKeepAlive = false;
          res.statusCode = 400;
          res.end(e.message);
        },
      );
      result.catch(() => {}).finally(() => void upload.discard());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  /** Sends a PUT head and then `body` as fast as the socket takes it; resolves with the raw answer. */
  function put(
    body: Buffer,
    headers: Record<string, string> = {},
  ): { socket: net.Socket; head: string; answer: Promise<string> } {
    const head = `PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    const socket = net.connect(port, '127.0.0.1');
    socket.write(head);
    socket.write(body);
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    return { socket, head, answer };
  }

  /** What one socket read takes at most (libuv reads 64 KiB at a time). */
  const SOCKET_READ = 64 * 1024;

  it('reads nothing ahead while its upload waits for the write budget', async () => {
    // Spend the whole budget, as a thousand uploads writing at once would: the upload writes its
    // first socket read, then waits for its turn.
    uploadWriteBudget.take(uploadWriteBudget.limit);
    const body = Buffer.alloc(4 * MiB, 7);
    const next = nextServed();
    const client = put(body);
    const { req, upload, result } = await next;
    let written = -1;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const now = (await stat(upload.file)).size - HEADER_SIZE;
      if (now > 0 && now === written && uploadWriteBudget.waiting === 1) break;
      written = now;
    }
    assert.equal(uploadWriteBudget.waiting, 1, 'the upload waits for its turn');
    assert.ok(written > 0 && written < body.length);
    const readAhead = req.socket.bytesRead - Buffer.byteLength(client.head) - written;
    // Node 26 starts one more socket read when a read() empties a request's buffer, whatever its
    // high-water mark (20 to 24 do not): a waiting upload holds at most that one read there.
    const allowed = Number(process.versions.node.split('.')[0]) >= 26 ? SOCKET_READ : 0;
    assert.ok(
      readAhead <= allowed,
      `a waiting upload holds no more unwritten body bytes than ${allowed} (it read ${readAhead} ahead)`,
    );
    // Its turn comes: it finishes, whole.
    uploadWriteBudget.give(uploadWriteBudget.limit);
    const received = await result;
    assert.equal(received.size, body.length);
    assert.equal(received.sha256, createHash('sha256').update(body).digest('hex'));
    client.socket.destroy();
  });

  it('hashes a large body on the hashing thread and frees each chunk once it landed', async () => {
    const body = randomBytes(8 * MiB);
    const jobs = hashes.jobs;
    const next = nextServed();
    const client = put(body);
    const { result, chunks } = await next;
    const received = await result;
    client.socket.destroy();
    assert.equal(received.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(hashes.jobs, jobs + 1, 'one job on the hashing thread');
    const whole = chunks.filter((c) => c.whole);
    assert.ok(whole.length > 0, 'the parser hands out whole buffers of its own');
    // Node 22 and later: each landed chunk was given back at once (detached: 0 bytes); Node 20
    // lacks ArrayBuffer.prototype.transfer and leaves them to the garbage collector.
    const canFree = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
    for (const { chunk } of whole) assert.equal(chunk.buffer.byteLength === 0, canFree);
  });

  it('never frees the chunks of a stream it does not own', async () => {
    const dir2 = await mkdtemp(path.join(tmpdir(), 'valet-upload-'));
    const file = path.join(dir2, 'u');
    const upload = new Upload(file, await openFd(file, 'wx+', 0o600));
    const body = randomBytes(MiB);
    const source = Object.assign(new PassThrough(), { complete: true });
    const result = upload.receive(source as unknown as http.IncomingMessage, { declaredSize: body.length });
    source.end(body);
    assert.equal((await result).sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(body.length, MiB, "the caller's buffer is left whole");
    await upload.discard();
  });

  it('fails, never hangs, when its request is destroyed with the whole body parsed but unread', async () => {
    // What Node does when a client leaves (or half-closes) while the last bytes of a body it sent
    // whole wait in the request's buffer for an upload that waits its turn: the request is
    // complete, then destroyed, and never emits 'end'. A stand-in request puts it in that state
    // at once (a real socket gets there only when the reads happen to line up).
    const dir2 = await mkdtemp(path.join(tmpdir(), 'valet-upload-'));
    const file = path.join(dir2, 'u');
    const upload = new Upload(file, await openFd(file, 'wx+', 0o600));
    const request = Object.assign(new Readable({ read() {} }), { complete: false });
    uploadWriteBudget.take(uploadWriteBudget.limit);
    try {
      const result = upload.receive(request as unknown as http.IncomingMessage, { declaredSize: 2 * MiB });
      request.push(Buffer.alloc(64 * 1024, 1));
      for (let i = 0; i < 100 && uploadWriteBudget.waiting === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(uploadWriteBudget.waiting, 1, 'the upload waits for its turn');
      for (let i = 1; i < 32; i++) request.push(Buffer.alloc(64 * 1024, 1));
      request.complete = true;
      request.push(null);
      request.destroy();
      const outcome = await Promise.race([
        result.then(
          () => 'stored',
          (e: Error & { code?: string }) => e.code,
        ),
        new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5000)),
      ]);
      assert.equal(outcome, 'incomplete_body');
    } finally {
      uploadWriteBudget.give(uploadWriteBudget.limit);
      await upload.discard();
    }
    for (let i = 0; i < 50 && uploadWriteBudget.used !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(uploadWriteBudget.used, 0, 'every byte taken from the budget came back');
  });

  it('gives back all of the budget it took when uploads fail part-way', async () => {
    assert.equal(uploadWriteBudget.used, 0);
    const outcomes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const next = nextServed();
      // Half are over the limit part-way, half are cut by the client part-way.
      const client = put(Buffer.alloc(2 * MiB, i), i % 2 === 0 ? { 'X-Max': String(MiB) } : {});
      const s = await next;
      if (i % 2 === 1) setTimeout(() => client.socket.destroy(), 5);
      outcomes.push(s.result.catch((e: Error) => e));
      outcomes.push(client.answer.finally(() => client.socket.destroy()));
    }
    const results = await Promise.all(outcomes);
    assert.ok(results.some((r) => r instanceof Error && /larger than/.test(r.message)));
    for (let i = 0; i < 50 && uploadWriteBudget.used !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(uploadWriteBudget.used, 0, 'every byte taken from the budget came back');
    assert.equal(uploadWriteBudget.waiting, 0);
  });
});

describe('Upload.seal', () => {
  it("frees a small body's buffers and its header once they are written", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-upload-'));
    const canFree = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
    for (const size of [4096, 40_000]) {
      const file = path.join(dir, `small-${size}`);
      const body = randomBytes(size);
      let chunks: Served['chunks'] = [];
      let content: Buffer[] = [];
      const server = http.createServer(async (req, res) => {
        const upload = new Upload(file, await openFd(file, 'wx+', 0o600));
        chunks = spyChunks(req);
        const received = await upload.receive(req, { declaredSize: size });
        const sha256 = createHash('sha256').update(body).digest('hex');
        assert.equal(received.sha256, sha256);
        content = await upload.seal({ ...metaOf(size), sha256 });
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as net.AddressInfo;
      // The larger body in two pieces, apart: two chunks, which the upload copies into one.
      const socket = net.connect(port, '127.0.0.1');
      socket.write(`PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      const cut = size > 4096 ? size / 2 : size;
      socket.write(body.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 50));
      socket.write(body.subarray(cut));
      await new Promise((r) => {
        socket.on('data', r);
        socket.on('close', r);
      });
      socket.destroy();
      server.close();
      if (size > 4096) assert.ok(chunks.length > 1, 'the body came in more than one chunk');
      // Written whole first (header, then the body), then given back at once on Node 22+.
      assert.deepEqual((await readFile(file)).subarray(HEADER_SIZE), body);
      const whole = chunks.filter((c) => c.whole);
      assert.ok(whole.length > 0, 'the parser hands out whole buffers of its own');
      for (const { chunk } of whole) assert.equal(chunk.buffer.byteLength === 0, canFree, `${size} B chunk`);
      for (const buffer of content)
        assert.equal(buffer.buffer.byteLength === 0, canFree, `${size} B content`);
    }
  });
});

function metaOf(size: number) {
  return {
    key: 'k',
    size,
    contentType: 'application/octet-stream',
    sha256: '',
    etag: '""',
    created: 0,
    subject: 's',
    keyId: 'id-aaaaaaaaaaaaaaaaaaa',
  };
}
