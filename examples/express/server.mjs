// Valet inside an Express app: the issuer mounted at /api/valet next to the app's own routes.
// Storage runs beside it: valet storage --issuer http://HOST:3000/api/valet (see README.md).
import { readFile } from 'node:fs/promises';
import express from 'express';
import { createIssuer, toNodeListener } from 'valet/issuer';

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

const app = express();
app.get('/', (_req, res) => res.send('my app, with Valet at /api/valet'));
// Express strips the mount path from req.url; the issuer accepts its routes either way.
app.use('/api/valet', toNodeListener(issuer));

const port = Number(process.env.PORT ?? 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
