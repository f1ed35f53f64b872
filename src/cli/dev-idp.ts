import * as jose from 'jose';
import { loadOrCreateJson } from './secrets.js';

/** The users of the development identity provider. */
export const DEV_USERS = ['alice', 'bob'] as const;
/** The audience of development tokens. */
export const DEV_AUDIENCE = 'valet-dev';
/** Where the development identity provider lives under the issuer's URL. */
export const DEV_IDP_PATH = '/idp';
const TOKEN_TTL = '12h';

/**
 * A minimal OpenID provider for `valet dev`: a discovery document, a JWK set and ES256-signed
 * tokens for two fixed users. The issuer checks these tokens exactly as it checks a real
 * provider's (discovery and JWKS over HTTP, `iss`, `aud`, `exp`, pinned algorithms). It is for
 * development on 127.0.0.1 only: anyone who can reach it can get a token for either user.
 */
export class DevIdentityProvider {
  readonly #privateKey: jose.CryptoKey;
  readonly #publicJwk: jose.JWK;

  private constructor(privateKey: jose.CryptoKey, publicJwk: jose.JWK) {
    this.#privateKey = privateKey;
    this.#publicJwk = publicJwk;
  }

  /** Loads the provider's key from `file`, creating it (mode 0600) on first use. */
  static async open(file: string): Promise<DevIdentityProvider> {
    const jwk = await loadOrCreateJson<jose.JWK>(file, async () => {
      const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
      const exported = await jose.exportJWK(privateKey);
      return { ...exported, kid: await jose.calculateJwkThumbprint(exported), alg: 'ES256', use: 'sig' };
    });
    const privateKey = (await jose.importJWK(jwk, 'ES256')) as jose.CryptoKey;
    const { d: _d, ...publicJwk } = jwk;
    return new DevIdentityProvider(privateKey, publicJwk);
  }

  /** The provider's issuer identifier for an issuer served at `base`. */
  static issuerFor(base: string): string {
    return `${base}${DEV_IDP_PATH}`;
  }

  /** A bearer token for a development user. */
  token(base: string, user: (typeof DEV_USERS)[number]): Promise<string> {
    return new jose.SignJWT({ name: user })
      .setProtectedHeader({ alg: 'ES256', kid: this.#publicJwk.kid as string, typ: 'JWT' })
      .setIssuer(DevIdentityProvider.issuerFor(base))
      .setAudience(DEV_AUDIENCE)
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(TOKEN_TTL)
      .sign(this.#privateKey);
  }

  /** Answers the provider's routes (`/idp/...`); `undefined` for any other path. */
  async handle(request: Request, base: string): Promise<Response | undefined> {
    const { pathname } = new URL(request.url);
    if (!pathname.startsWith(`${DEV_IDP_PATH}/`)) return undefined;
    const issuer = DevIdentityProvider.issuerFor(base);
    const route = pathname.slice(DEV_IDP_PATH.length);
    if (route === '/.well-known/openid-configuration' && request.method === 'GET') {
      return Response.json({
        issuer,
        jwks_uri: `${issuer}/jwks.json`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
      });
    }
    if (route === '/jwks.json' && request.method === 'GET') return Response.json({ keys: [this.#publicJwk] });
    if (route === '/token' && request.method === 'POST') {
      const user = new URLSearchParams(await request.text()).get('user');
      if (user !== 'alice' && user !== 'bob') {
        return Response.json(
          { error: { code: 'bad_request', message: 'user must be alice or bob' } },
          { status: 400 },
        );
      }
      return Response.json({ token: await this.token(base, user), token_type: 'Bearer', user });
    }
    return Response.json({ error: { code: 'not_found', message: 'no such route' } }, { status: 404 });
  }
}
