// The benchmark's baseline: a plain node:http file server with no checks at all. PUT streams the
// body to a file and fsyncs it before answering (as Valet does); GET streams the file back;
// DELETE unlinks it.
// It uses the same stream buffer sizes as Valet, so the comparison measures Valet's checks.
// Usage: node --import tsx bench/baseline-server.ts DIR   (prints "listening on URL")
import { createHash } from 'node:crypto';
import { close, createReadStream, createWriteStream, fsync, open } from 'node:fs';
import * as fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

const openFd = promisify(open);
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);

const dir = process.argv[2];
if (!dir) throw new Error('usage: baseline-server.ts DIR');
await fs.mkdir(dir, { recursive: true });
// Object names are hashed to file names only so that any URL maps to one flat file.
const fileFor = (url: string) =>
  path.join(
    dir,
    createHash('sha1')
      .update(url.split('?')[0] ?? '')
      .digest('hex'),
  );

const server = http.createServer({ requestTimeout: 0 }, async (req, res) => {
  const file = fileFor(req.url ?? '/');
  try {
    if (req.method === 'PUT') {
      const fd = await openFd(file, 'w', 0o600);
      try {
        await pipeline(req, createWriteStream('', { fd, autoClose: false, highWaterMark: 1024 * 1024 }));
        await fsyncFd(fd);
      } finally {
        await closeFd(fd);
      }
      res.writeHead(201, { 'content-length': 0 }).end();
    } else if (req.method === 'GET') {
      const { size } = await fs.stat(file);
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), res);
    } else if (req.method === 'DELETE') {
      await fs.unlink(file);
      res.writeHead(204).end();
    } else {
      res.writeHead(405).end();
    }
  } catch {
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`baseline listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
