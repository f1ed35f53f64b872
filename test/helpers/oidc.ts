import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import * as jose from 'jose';
import Provider from 'oidc-provider';

/** A real OpenID provider (the `oidc-provider` package) served by the test on 127.0.0.1. */
export interface TestProvider {
  issuer: string;
  /** The provider's private signing key (to forge tokens that differ in one claim only). */
  privateKey: jose.CryptoKey;
  kid: string;
  /** An access token (JWT, `typ: at+jwt`) for a client (the client id is the subject). */
  token(client: string, resource?: string): Promise<string>;
  /** Stops the provider's server (as an outage would). */
  stop(): Promise<void>;
}

const SECRET = 'a-client-secret-that-is-long-enough-for-hs256';

/**
 * Starts `oidc-provider` with the client credentials grant and JWT access tokens for the
 * resources `audiences` (resource indicators, RFC 8707). Each name in `clients` is a client whose
 * tokens have it as `sub`.
 */
export async function startProvider(
  t: TestContext,
  options: { clients: string[]; audiences: string[] },
): Promise<TestProvider> {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const kid = 'test-es256';
  const jwk = { ...(await jose.exportJWK(privateKey)), kid, use: 'sig', alg: 'ES256' };
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: options.clients.map((client_id) => ({
      client_id,
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      id_token_signed_response_alg: 'ES256',
    })),
    jwks: { keys: [jwk as jose.JWK & { kty: 'EC' }] } as never,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audiences[0] as string,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (!options.audiences.includes(resource)) throw new Error('unknown resource');
          return {
            scope: 'files',
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    ttl: { ClientCredentials: 600 },
  });
  server.on('request', provider.callback());
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  t.after(stop);
  return {
    issuer,
    privateKey,
    kid,
    stop,
    async token(client, resource = options.audiences[0]) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${client}:${SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'files',
          resource: resource as string,
        }),
      });
      const body = (await response.json()) as { access_token?: string };
      if (!body.access_token) throw new Error(`the provider refused a token: ${JSON.stringify(body)}`);
      return body.access_token;
    },
  };
}
