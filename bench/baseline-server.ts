// The benchmark's baselines: a plain node:http file server. PUT streams the body to a file and
// fsyncs it before answering (as Valet does); GET streams the file back; DELETE unlinks it.
// It uses the same stream buffer sizes as Valet, so the comparison measures Valet's checks.
// With --verify JWKS ("plain + verify") every request must also carry `?vk=TOKEN`, whose Ed25519
// signature it checks with one bare node:crypto.verify against a cached KeyObject (the key named
// by the token's kid): the one cryptographic step a valet key needs, with none of its claims.
// With --atomic a PUT replaces the object as Valet does, never in place: the body goes to a new
// temporary file, fsynced, then renamed over the object (a failed or cut-off upload leaves the
// earlier version whole), to tell what that guarantee costs from what Valet's checks cost.
// Usage: node --import tsx bench/baseline-server.ts DIR [--verify JWKS] [--atomic]
//        (prints "listening on URL")
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { close, createReadStream, createWriteStream, fsync, open, readFileSync } from 'node:fs';
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
if (!dir) throw new Error('usage: baseline-server.ts DIR [--verify JWKS] [--atomic]');
const jwksAt = process.argv.indexOf('--verify');
const keys = jwksAt === -1 ? undefined : loadKeys(process.argv[jwksAt + 1]);
const atomic = process.argv.includes('--atomic');
let temps = 0;
await fs.mkdir(dir, { recursive: true });
// Object names are hashed to file names only so that any URL maps to one flat file.
const fileFor = (url: string) =>
  path.join(
    dir,
    createHash('sha1')
      .update(url.split('?')[0] ?? '')
      .digest('hex'),
  );

function loadKeys(file: string | undefined): Map<string, KeyObject> {
  if (!file) throw new Error('--verify needs a JWKS file');
  const jwks = JSON.parse(readFileSync(file, 'utf8')) as { keys: Array<{ kid: string }> };
  return new Map(jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
}

/** True if the request's `vk` is a compact JWS whose Ed25519 signature a known key verifies. */
function signed(url: string): boolean {
  const token = new URL(url, 'http://x').searchParams.get('vk') ?? '';
  const dot = token.lastIndexOf('.');
  if (!keys || dot === -1) return false;
  // One trusted key (the benchmark's case): no header to read, the leanest check there is.
  const key = keys.size === 1 ? keys.values().next().value : keys.get(kidOf(token));
  if (!key) return false;
  return verify(null, Buffer.from(token.slice(0, dot)), key, Buffer.from(token.slice(dot + 1), 'base64url'));
}

function kidOf(token: string): string {
  const header = Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString();
  return (JSON.parse(header) as { kid?: string }).kid ?? '';
}

const server = http.createServer({ requestTimeout: 0 }, async (req, res) => {
  const file = fileFor(req.url ?? '/');
  try {
    if (keys && !signed(req.url ?? '/')) {
      res.writeHead(401, { 'content-length': 0 }).end();
    } else if (req.method === 'PUT') {
      const target = atomic ? `${file}.${process.pid}-${temps++}.tmp` : file;
      const fd = await openFd(target, atomic ? 'wx' : 'w', 0o600);
      try {
        await pipeline(req, createWriteStream('', { fd, autoClose: false, highWaterMark: 1024 * 1024 }));
        await fsyncFd(fd);
      } finally {
        await closeFd(fd);
      }
      if (atomic)
        await fs.rename(target, file).catch(async (error) => {
          await fs.rm(target, { force: true });
          throw error;
        });
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
