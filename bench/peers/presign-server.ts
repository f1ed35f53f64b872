// bench:peers' minting baseline: the endpoint an app writes by hand instead of using Valet. It
// checks a JWT bearer with jose (the provider's keys, as Valet's issuer gets them) and answers
// with an S3 presigned PUT URL from the AWS SDK. No rules beyond a name, no records, no quota.
// Usage: node --import tsx bench/peers/presign-server.ts JWKS_URI   (prints "listening on URL")
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import * as jose from 'jose';

const jwksUri = process.argv[2];
if (!jwksUri) throw new Error('usage: presign-server.ts JWKS_URI');
const keys = jose.createRemoteJWKSet(new URL(jwksUri));
const s3 = new S3Client({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:9000',
  forcePathStyle: true,
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench-secret-key-0123456789' },
});

async function mint(req: http.IncomingMessage, body: string): Promise<{ status: number; json: unknown }> {
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!bearer) return { status: 401, json: { error: 'unauthenticated' } };
  let subject: string;
  try {
    const { payload } = await jose.jwtVerify(bearer, keys, {
      issuer: 'https://idp.bench',
      audience: 'bench',
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      requiredClaims: ['sub', 'exp'],
    });
    subject = payload.sub as string;
  } catch {
    return { status: 401, json: { error: 'unauthenticated' } };
  }
  const request = JSON.parse(body) as { name?: unknown; size?: unknown };
  if (typeof request.name !== 'string' || typeof request.size !== 'number') {
    return { status: 400, json: { error: 'bad_request' } };
  }
  const url = await getSignedUrl(
    s3,
    new PutObjectCommand({
      Bucket: 'bench',
      Key: `users/${subject}/${request.name}`,
      ContentLength: request.size,
    }),
    { expiresIn: 300 },
  );
  return { status: 201, json: { url } };
}

const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    mint(req, body).then(
      ({ status, json }) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      },
      () => res.writeHead(500).end(),
    );
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`presign listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
