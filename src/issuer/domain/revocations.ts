import type { RevocationList } from '../../token/revocations.js';
import { DEFAULT_CLOCK_SKEW } from '../../token/verify.js';
import type { IssuerCore } from '../core.js';

/**
 * Revokes one key before its expiry. A resumable upload's id stays revoked for as long as a
 * renewed key could continue it.
 */
export async function revokeKey(core: IssuerCore, id: string): Promise<void> {
  const grant = await core.records.getGrant(id);
  const now = core.now();
  let until = grant?.expiresAt ?? now + core.maxTtl * 1000;
  if (grant?.constraints.resumable === true) {
    until = Math.max(until, grant.issuedAt + core.uploadLifetime * 1000 + core.maxTtl * 1000);
  }
  const expiresAt = until + DEFAULT_CLOCK_SKEW * 1000;
  await core.records.addRevocation({ kind: 'key', value: id, before: null, expiresAt, createdAt: now });
}

/** Revokes every key issued to `subject` at or before `before` (ms). */
export async function revokeSubject(core: IssuerCore, subject: string, before = core.now()): Promise<void> {
  await core.records.addRevocation({
    kind: 'subject',
    value: subject,
    before,
    expiresAt: before + (core.maxTtl + DEFAULT_CLOCK_SKEW) * 1000,
    createdAt: core.now(),
  });
}

/** Revokes a signing key: every key it signed is refused, and it signs no more. */
export async function revokeSigningKey(core: IssuerCore, kid: string): Promise<void> {
  const now = core.now();
  const century = 100 * 365 * 24 * 3600 * 1000;
  await core.records.addRevocation({
    kind: 'signing_key',
    value: kid,
    before: null,
    expiresAt: now + century,
    createdAt: now,
  });
  core.signing.revoke(kid);
}

/** The revocation list storage polls, with a version that changes whenever it does. */
export async function revocationFeed(core: IssuerCore): Promise<{ version: string; list: RevocationList }> {
  const { version, revocations } = await core.records.activeRevocations(core.now());
  const list: RevocationList = { keys: [], subjects: [], signing_keys: [] };
  for (const r of revocations) {
    if (r.kind === 'key') list.keys.push({ jti: r.value, exp: Math.ceil(r.expiresAt / 1000) });
    else if (r.kind === 'subject')
      list.subjects.push({ sub: r.value, before: Math.floor((r.before ?? 0) / 1000) });
    else list.signing_keys.push(r.value);
  }
  return { version, list };
}
