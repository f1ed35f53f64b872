// The app's issuer, made once per server process (the route handlers share it).
import { readFile } from 'node:fs/promises';
import { createIssuer, type Issuer } from 'valet/issuer';

let issuer: Promise<Issuer> | undefined;

export function valet(): Promise<Issuer> {
  issuer ??= (async () =>
    createIssuer({
      signingKeys: [JSON.parse(await readFile('signing.jwk', 'utf8'))], // valet keygen --out signing.jwk
      storageSecret: (await readFile('storage.secret', 'utf8')).trim(), // valet secret --out storage.secret
      storageUrl: process.env.STORAGE_URL ?? 'http://127.0.0.1:9000',
      database: 'issuer.sqlite',
      basePath: '/api/valet',
      // Share links' origin; default: the origin the request was addressed to (see the route file).
      ...(process.env.PUBLIC_URL && { publicUrl: process.env.PUBLIC_URL }),
      // Your session check (a cookie, NextAuth…). Here, for the example only: "Bearer <user name>".
      authenticate: (request) =>
        /^Bearer (\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
      rules: {
        upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 100 * 2 ** 20 },
        read: { op: 'get', prefix: 'users/{subject}/' },
        share: { op: 'share', prefix: 'users/{subject}/' },
      },
    }))();
  return issuer;
}
