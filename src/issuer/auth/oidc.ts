import * as jose from 'jose';
import { z } from 'zod';
import { VALET_KEY_TYP } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { type CheckResult, notOk, ok } from '../../wire/readiness.js';
import type { Identity } from '../auth/identity.js';
import { VerifiedBearers } from './verified-bearers.js';

/** The built-in bearer check: OpenID Connect ID tokens or JWT access tokens from one provider. */
export interface OidcOptions {
  /** The provider's issuer identifier (`iss`), exactly as in its tokens. */
  issuer: string;
  /** Accepted audience(s) (`aud`): your client id or API identifier. */
  audience: string | readonly string[];
  /** The provider's JWK set URL. Default: `jwks_uri` from `<issuer>/.well-known/openid-configuration`. */
  jwksUri?: string;
  /** Accepted signature algorithms. Default `['RS256', 'ES256', 'EdDSA']`; `none` and HMAC are never accepted. */
  algorithms?: readonly string[];
  /** Allowed clock skew, seconds. Default 30. */
  clockTolerance?: number;
  /** Longest token age accepted (from `iat`), seconds. Default: no limit beyond `exp`. */
  maxTokenAge?: number;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$|^ES256K$/;

/** Shape of {@link OidcOptions}, checked when the issuer is created. */
export const oidcOptionsSchema = z
  .object({
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwksUri: z.url({ protocol: /^https?$/ }).optional(),
    algorithms: z
      .array(z.string().regex(ASYMMETRIC, 'only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are accepted'))
      .min(1)
      .optional(),
    clockTolerance: z.number().int().min(0).max(300).optional(),
    maxTokenAge: z.number().int().min(1).optional(),
  })
  .strict();

/** Reads `Authorization: Bearer <token>`; `undefined` if absent. */
export function bearerToken(request: Request): string | undefined {
  return bearerFromHeader(request.headers.get('authorization'));
}

/** The token of an `Authorization: Bearer <token>` header value; `undefined` if absent. */
export function bearerFromHeader(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match?.[1])
    throw new ValetError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Builds the OIDC bearer check. The provider's keys are fetched over HTTP (discovery, then the
 * JWK set; cached by jose and re-fetched for an unknown `kid`). A token passes only if its
 * signature verifies with one of those keys under a pinned asymmetric algorithm, `iss` and `aud`
 * match, and `exp` (required), `nbf` and `iat` hold within the tolerance. `alg: none` and
 * HMAC-signed tokens are refused by the algorithm pin. A token verified in the last minute is
 * remembered by its exact text (`verified`, see verified-bearers.ts): its clock is checked again,
 * its signature is not.
 *
 * @example
 * ```ts
 * const authenticate = oidcAuthenticator({ issuer: 'https://id.example.com', audience: 'my-app' })
 * const identity = await authenticate(request) // { subject, claims } or null when no bearer
 * ```
 */
export function oidcAuthenticator(
  options: OidcOptions,
  now: () => number = Date.now,
): (request: Request) => Promise<Identity | null> {
  const check = oidcHeaderCheck(options, now);
  return (request) => check(request.headers.get('authorization'));
}

/** {@link oidcAuthenticator} on the `Authorization` header value alone. */
export function oidcHeaderCheck(
  options: OidcOptions,
  now: () => number = Date.now,
  verified: VerifiedBearers = new VerifiedBearers(),
): ((authorization: string | null) => Promise<Identity | null>) & { ready: () => Promise<CheckResult> } {
  let keySet: Promise<ReturnType<typeof jose.createRemoteJWKSet>> | undefined;
  // After a failed discovery, the next try waits (1 s, doubling to a minute): requests meanwhile
  // get the same answer at once instead of each asking a provider that is down or misnamed.
  let failed: { error: unknown; until: number; wait: number } | undefined;
  const keys = () => {
    if (!keySet && failed && now() < failed.until) return Promise.reject(failed.error);
    keySet ??= discoverJwks(options).then(
      (resolver) => {
        failed = undefined;
        return resolver;
      },
      (error) => {
        keySet = undefined;
        const wait = failed ? Math.min(DISCOVERY_BACKOFF_MAX_MS, failed.wait * 2) : 1_000;
        failed = { error, until: now() + wait, wait };
        throw error;
      },
    );
    return keySet;
  };
  const algorithms = [...(options.algorithms ?? ['RS256', 'ES256', 'EdDSA'])];
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];

  const tolerance = options.clockTolerance ?? 30;
  const clock = { tolerance, ...(options.maxTokenAge !== undefined && { maxTokenAge: options.maxTokenAge }) };
  const ready = providerReadiness(options, now, keys, () => keySet !== undefined);
  const check = async (authorization: string | null): Promise<Identity | null> => {
    const token = bearerFromHeader(authorization);
    if (token === undefined) return null;
    const remembered = verified.get(token, now() / 1000, clock);
    if (remembered) return remembered;
    let resolver: ReturnType<typeof jose.createRemoteJWKSet>;
    try {
      resolver = await keys();
    } catch (cause) {
      throw providerError(options, cause);
    }
    try {
      const { payload, protectedHeader } = await jose.jwtVerify(token, resolver, {
        issuer: options.issuer,
        audience,
        algorithms,
        clockTolerance: tolerance,
        currentDate: new Date(now()),
        requiredClaims: ['sub', 'exp'],
        ...(options.maxTokenAge !== undefined && { maxTokenAge: options.maxTokenAge }),
      });
      // A valet key is not an identity, even if a provider were to share a signing key.
      if (protectedHeader.typ?.toLowerCase() === VALET_KEY_TYP)
        throw new Error('a valet key is not a bearer token');
      // jose checks `iat` against the clock only with maxTokenAge; a token from the future is never
      // taken (RFC 7519 §4.1.6: the time the JWT was issued), whatever the options.
      if (typeof payload.iat === 'number' && payload.iat > now() / 1000 + tolerance)
        throw new IssuedInFuture();
      const identity = { subject: payload.sub as string, claims: payload as Record<string, unknown> };
      verified.set(token, identity, now() / 1000);
      return identity;
    } catch (cause) {
      if (cause instanceof jose.errors.JWKSTimeout) throw providerError(options, cause);
      const expired = cause instanceof jose.errors.JWTExpired;
      const message = expired
        ? 'the bearer token has expired'
        : cause instanceof IssuedInFuture
          ? `the bearer token was issued in the future (iat), beyond the ${tolerance} s clock tolerance: check the identity provider's clock`
          : 'the bearer token is not valid';
      throw new ValetError('unauthenticated', message, { cause });
    }
  };
  return Object.assign(check, { ready });
}

/**
 * Whether the provider answers now (its discovery, or the key set configured), at most one look
 * every 10 s: failing while the issuer has no key set from it, degraded while it verifies with
 * the keys it has (a token signed with a new key would be refused).
 */
function providerReadiness(
  options: OidcOptions,
  now: () => number,
  keys: () => Promise<ReturnType<typeof jose.createRemoteJWKSet>>,
  hasKeys: () => boolean,
): () => Promise<CheckResult> {
  let looked: { at: number; result: CheckResult } | undefined;
  return async () => {
    if (looked && now() - looked.at < 10_000) return looked.result;
    let result: CheckResult;
    try {
      const resolver = await keys();
      const answered = await fetch(options.jwksUri ?? discoveryUrl(options.issuer), {
        signal: AbortSignal.timeout(5_000),
        redirect: 'error',
      });
      await answered.body?.cancel();
      if (!answered.ok) throw new Error(`it answered ${answered.status}`);
      if (!resolver.fresh) await resolver.reload();
      result = ok();
    } catch (error) {
      const problem =
        error instanceof IssuerMismatch
          ? error.message
          : `the identity provider ${options.issuer} cannot be reached (${(error as Error).message})`;
      result = hasKeys()
        ? notOk('degraded', `${problem}: bearer tokens are verified with the keys fetched before`)
        : notOk('failing', `${problem}: bearer tokens are refused`);
    }
    looked = { at: now(), result };
    return result;
  };
}

/** OpenID Connect Discovery 1.0 §4: the provider's configuration document. */
function discoveryUrl(issuer: string): URL {
  return new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
}

/** A token whose `iat` is later than now plus the tolerance. */
class IssuedInFuture extends Error {}

/** The longest wait between two tries of a failed discovery, ms. */
const DISCOVERY_BACKOFF_MAX_MS = 60_000;

/** A discovery document that names another issuer: the configuration is wrong, retrying cannot help. */
class IssuerMismatch extends Error {}

/** Why bearer tokens cannot be checked now, for the caller: what differs, or what did not answer. */
function providerError(options: OidcOptions, cause: unknown): ValetError {
  if (cause instanceof IssuerMismatch) return new ValetError('misconfigured', cause.message, { cause });
  const reason = (cause as Error).cause instanceof Error ? ((cause as Error).cause as Error).message : '';
  return new ValetError(
    'unavailable',
    `the identity provider ${options.issuer} cannot be reached (${(cause as Error).message}${reason ? `: ${reason}` : ''})`,
    { cause },
  );
}

async function discoverJwks(options: OidcOptions): Promise<ReturnType<typeof jose.createRemoteJWKSet>> {
  let uri = options.jwksUri;
  if (uri === undefined) {
    const response = await fetch(discoveryUrl(options.issuer), {
      signal: AbortSignal.timeout(5_000),
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`OIDC discovery answered ${response.status}`);
    const config = z
      .object({ issuer: z.string(), jwks_uri: z.url({ protocol: /^https?$/ }) })
      .parse(await response.json());
    // OpenID Connect Discovery 1.0 §4.3: the issuer in the document MUST match the one used.
    if (config.issuer !== options.issuer) {
      throw new IssuerMismatch(
        `the identity provider's discovery document (${discoveryUrl(options.issuer)}) names the issuer ` +
          `${JSON.stringify(config.issuer)}, not ${JSON.stringify(options.issuer)}: set the issuer option ` +
          'to exactly what the provider names (a trailing slash included)',
      );
    }
    uri = config.jwks_uri;
  }
  return jose.createRemoteJWKSet(new URL(uri), { cooldownDuration: 10_000, timeoutDuration: 5_000 });
}
