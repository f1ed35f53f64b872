import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A port of its own for `GET /metrics` (`--metrics-port`), so that the metrics are reachable
 * from the monitoring network only, not from wherever storage's or the issuer's port is.
 * Resolves with its URL once it listens.
 */
export async function serveMetrics(
  metrics: () => Promise<{ contentType: string; text: string }>,
  port: number,
  host: string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    metrics().then(
      ({ contentType, text }) =>
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
