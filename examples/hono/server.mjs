// Valet inside a Hono app: the issuer mounted at /api/valet next to the app's own routes.
// Storage runs beside it: valet storage --issuer http://HOST:3000/api/valet (see README.md).
import { readFile } from 'node:fs/promises';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createIssuer } from 'valet/issuer';

const issuer = await createIssuer({
  signingKeys: [JSON.parse(await readFile('signing.jwk', 'utf8'))], // valet keygen --out signing.jwk
  storageSecret: (await readFile('storage.secret', 'utf8')).trim(), // valet secret --out storage.secret
  storageUrl: process.env.STORAGE_URL ?? 'http://127.0.0.1:9000',
  database: 'issuer.sqlite',
  basePath: '/api/valet',
  // Your session check. Here, for the example only: "Authorization: Bearer <user name>".
  authenticate: (request) => /^Bearer (\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
  rules: {
    upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 100 * 2 ** 20 },
    read: { op: 'get', prefix: 'users/{subject}/' },
    share: { op: 'share', prefix: 'users/{subject}/' },
  },
});

const app = new Hono();
app.get('/', (c) => c.text('my app, with Valet at /api/valet'));
app.mount('/api/valet', issuer.fetch);

const port = Number(process.env.PORT ?? 3000);
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () =>
  console.log(`listening on http://127.0.0.1:${port}`),
);
