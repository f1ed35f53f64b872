import { ValetError } from '../../token/errors.js';
import { unstorableReason } from '../../token/text.js';
import type { CheckResult } from '../../wire/readiness.js';
import type { Identity } from '../auth/identity.js';
import { type OidcOptions, oidcHeaderCheck } from '../auth/oidc.js';
import type { IssuerOptions } from '../options.js';
import type { Incoming } from './messages.js';

/**
 * Establishes who is calling: the caller's identity, `401 unauthenticated` otherwise; with OIDC,
 * `ready` says whether the identity provider answers (for `/readyz`).
 */
export type Identify = ((incoming: Incoming) => Promise<Identity>) & { ready?: () => Promise<CheckResult> };

/** The issuer's authentication: the app's `authenticate` hook, or the built-in OIDC check. */
export function identifier(options: IssuerOptions, now: () => number): Identify {
  const { authenticate, oidc } = options;
  let check: (incoming: Incoming) => Promise<Identity | null>;
  let ready: (() => Promise<CheckResult>) | undefined;
  if (authenticate) {
    check = async (incoming) => {
      const result = await authenticate(incoming.request());
      if (result === null) return null;
      return typeof result === 'string' ? { subject: result, claims: {} } : result;
    };
  } else {
    const oidcCheck = oidcHeaderCheck(oidc as OidcOptions, now);
    check = (incoming) => oidcCheck(incoming.header('authorization'));
    ready = oidcCheck.ready;
  }
  const identify: Identify = async (incoming) => {
    let identity: Identity | null;
    try {
      identity = await check(incoming);
    } catch (error) {
      if (error instanceof ValetError) throw error;
      throw new ValetError('unauthenticated', 'authentication failed', { cause: error });
    }
    if (!identity) throw notSignedIn(incoming);
    if (typeof identity.subject !== 'string' || identity.subject === '' || identity.subject.length > 256) {
      throw new ValetError('unauthenticated', 'the authenticated subject is empty or too long');
    }
    const reason = unstorableReason(identity.subject);
    if (reason !== undefined) {
      throw new ValetError('unauthenticated', `the authenticated subject holds ${reason}: it cannot be used`);
    }
    return identity;
  };
  if (ready) identify.ready = ready;
  return identify;
}

/**
 * The refusal of a request no one is signed in for: a token that was sent and refused is named as
 * such (saying one is needed would send the user looking for the wrong problem).
 */
function notSignedIn(incoming: Incoming): ValetError {
  if (incoming.header('authorization')) {
    return new ValetError(
      'unauthenticated',
      "the app refused this request's token (Authorization header): it is wrong or has expired; sign in again",
    );
  }
  return new ValetError(
    'unauthenticated',
    "this request is not signed in: send the app's token (Authorization: Bearer …) or its session cookie",
  );
}
