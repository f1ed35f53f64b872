// The minting workload of `npm run bench:peers`: POST /v1/keys at saturation against Valet's
// issuer (in an app, with every grant recorded), a hand-written presign endpoint and a hello-world
// server; all three check nothing or the same JWT bearer from the same provider keys.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import * as jose from 'jose';
import { cpuSeconds } from './load.js';

/** A provider's signing key and its JWK set served over HTTP, as an OpenID provider publishes it. */
export interface BenchIdp {
  jwksUri: string;
  bearer: string;
  close(): Promise<void>;
}

export async function startIdp(): Promise<BenchIdp> {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const bearer = await new jose.SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'JWT' })
    .setIssuer('https://idp.bench')
    .setAudience('bench')
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(privateKey);
  return {
    jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    bearer,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface MintResult {
  rps: number;
  p99: number;
  cpuPerRequest: number;
}

/** `seconds` of POST /v1/keys at `connections`; each request names a new object. */
export async function mintLoad(
  url: string,
  pids: number[],
  options: { bearer: string; seconds: number; connections: number; tag: string },
): Promise<MintResult> {
  let n = 0;
  const cpu0 = cpuSeconds(pids);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/keys`,
        connections: options.connections,
        duration: options.seconds,
        requests: [
          {
            method: 'POST',
            headers: { authorization: `Bearer ${options.bearer}`, 'content-type': 'application/json' },
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({
                op: 'put',
                name: `bench/${options.tag}-${n++}.bin`,
                size: 4096,
                content_type: 'application/octet-stream',
              }),
            }),
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
  });
  const cpu = cpuSeconds(pids) - cpu0;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${options.tag}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    cpuPerRequest: cpu / result.requests.total,
  };
}
