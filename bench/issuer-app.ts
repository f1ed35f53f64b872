// The app process of the issuer benchmarks (bench only):
//   issuer-app.ts --mode valet|relay --storage URL --key FILE --secret FILE --db FILE [--jwks-uri URL]
// Both modes mount the issuer (minting, webhooks, revocation feed). `relay` also has
// `PUT /relay/<name>`: the app receives the upload and forwards it to storage itself, the way an
// app without the Valet Key pattern works. `GET /stats` reports the process's CPU time, and by
// route the HTTP bytes received and the CPU time spent while requests were in progress.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { toNodeListener } from '../src/issuer/http/node.js';
import { createIssuer } from '../src/issuer/issuer.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    storage: { type: 'string' },
    key: { type: 'string' },
    secret: { type: 'string' },
    db: { type: 'string' },
    'jwks-uri': { type: 'string' },
  },
});
const issuer = await createIssuer({
  signingKeys: [JSON.parse(readFileSync(values.key as string, 'utf8'))],
  storageUrl: values.storage as string,
  storageSecret: readFileSync(values.secret as string, 'utf8').trim(),
  database: values.db as string,
  ...(values['jwks-uri'] !== undefined
    ? // A JWT bearer from an OpenID provider (bench:peers: the same check as the hand-written endpoint).
      { oidc: { issuer: 'https://idp.bench', audience: 'bench', jwksUri: values['jwks-uri'] } }
    : {
        // The app's own session check (a bearer naming the user): the benchmark measures Valet's cost.
        authenticate: (request: Request) =>
          /^Bearer user:(\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
      }),
  rules: {
    upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 8 * 2 ** 30 },
    read: { op: 'get', prefix: 'users/{subject}/' },
  },
});
const listener = toNodeListener(issuer);
const bytes: Record<string, number> = {};
const cpu: Record<string, number> = {};

/** Exact HTTP/1.1 bytes of a request's head: request line, header lines, blank line. */
function headBytes(req: http.IncomingMessage): number {
  let n = Buffer.byteLength(`${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`) + 2;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    n += Buffer.byteLength(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`);
  }
  return n;
}

function route(url: string): string {
  if (url.startsWith('/relay/')) return 'relay';
  if (url.startsWith('/v1/keys')) return 'keys';
  if (url.startsWith('/v1/events')) return 'events';
  if (url.startsWith('/v1/revocations')) return 'revocations';
  return 'other';
}

async function relay(req: http.IncomingMessage, res: http.ServerResponse, name: string): Promise<void> {
  const minted = await issuer.mint('bench', {
    op: 'put',
    name,
    size: Number(req.headers['content-length']),
  });
  const target = new URL(minted.url);
  const upstream = http.request(
    {
      host: target.hostname,
      port: target.port,
      path: `${target.pathname}${target.search}`,
      method: 'PUT',
      headers: { 'content-length': req.headers['content-length'] },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/stats') {
    const usage = process.cpuUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ cpuSeconds: (usage.user + usage.system) / 1e6, bytes, cpu }));
    return;
  }
  // With --jwks-uri (bench:peers) the app is measured as a user would run it: no accounting per
  // request (process.cpuUsage() twice a request costs about a tenth of a mint).
  if (values['jwks-uri'] !== undefined) {
    listener(req, res);
    return;
  }
  const r = route(url);
  const started = process.cpuUsage();
  res.on('close', () => {
    const spent = process.cpuUsage(started);
    cpu[r] = (cpu[r] ?? 0) + (spent.user + spent.system) / 1e6;
  });
  bytes[r] = (bytes[r] ?? 0) + headBytes(req);
  req.on('data', (chunk: Buffer) => {
    bytes[r] = (bytes[r] ?? 0) + chunk.length;
  });
  if (r === 'relay' && values.mode === 'relay' && req.method === 'PUT') {
    req.pause(); // until the upstream request is ready to take the body
    void relay(req, res, decodeURIComponent(url.slice('/relay/'.length))).catch(() => res.destroy());
    return;
  }
  listener(req, res);
});
server.listen(Number(process.env.APP_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`app listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void issuer.close().then(() => process.exit(0)));
});
