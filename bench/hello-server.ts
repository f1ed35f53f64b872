// The minting benchmark's baseline: a hello-world node:http server (reads the body, answers JSON).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end('{"hello":"world"}');
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`hello listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
