// bench:peers' tus baseline: plain @tus/server with @tus/file-store on node:http, as its README
// sets it up (no authentication, no checks, no fsync).
// Usage: node --import tsx bench/peers/tus-server.ts DIR   (prints "listening on URL")
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const dir = process.argv[2];
if (!dir) throw new Error('usage: tus-server.ts DIR');
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
  tus.handle(req, res);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`tus listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
