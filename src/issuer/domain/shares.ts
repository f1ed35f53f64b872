import { ValetError } from '../../token/errors.js';
import { buildClaims, randomKeyId } from '../../token/mint.js';
import type { ShareLink } from '../api.js';
import type { Identity } from '../auth/identity.js';
import type { IssuerCore } from '../core.js';
import { pickRule, ruleContext } from '../policy.js';
import type { ShareRecord } from '../records/records.js';
import { DEFAULT_SHARE_TTL } from '../rules.js';
import { refuseIfPending } from './pending.js';
import { revokeSubject } from './revocations.js';

/** Lifetime of a key minted when a share link is opened, seconds. */
const SHARE_KEY_TTL = 60;

/** The subject of keys minted through a share link: revoking it ends them all. */
function shareSubject(id: string): string {
  return `share:${id}`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A share link for an object the caller may share (a `share` rule allows it, the object is
 * complete), bound to the version it is now: a later upload under the same name, or a deletion,
 * ends it. Only the hash of its secret is kept: the link is shown once.
 */
export async function share(
  core: IssuerCore,
  identity: Identity,
  key: string,
  ttlSeconds: number,
  baseUrl?: string,
): Promise<ShareLink> {
  const { rule, object } = await pickRule(core, ruleContext(identity, undefined), 'share', key);
  const maxShareTtl = rule.ttl ?? DEFAULT_SHARE_TTL;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxShareTtl) {
    throw new ValetError('bad_request', `a share link lives from 1 to ${maxShareTtl} seconds`);
  }
  const record = await core.records.getObject(object);
  if (record?.state !== 'complete') throw new ValetError('not_found', 'no such object');
  refuseIfPending(record, 'no share link yet');
  const now = core.now();
  const secret = randomKeyId() + randomKeyId();
  const created: ShareRecord = {
    id: `shr_${randomKeyId()}`,
    secretHash: await sha256Hex(secret),
    object,
    owner: identity.subject,
    createdAt: now,
    expiresAt: now + ttlSeconds * 1000,
    revokedAt: null,
    etag: record.etag ?? null,
  };
  await core.records.createShare(created);
  const base = (core.options.publicUrl ?? baseUrl ?? '').replace(/\/$/, '');
  return {
    id: created.id,
    url: `${base}${core.basePath}/s/${secret}`,
    object,
    expiresAt: new Date(created.expiresAt).toISOString(),
  };
}

/** Revokes a share link (only its owner may), and the keys already handed out through it. */
export async function unshare(core: IssuerCore, identity: Identity, id: string): Promise<void> {
  const found = await core.records.getShare(id);
  // Someone else's share is answered like a missing one: share ids are not an oracle.
  if (!found || found.owner !== identity.subject) throw new ValetError('not_found', 'no such share');
  const now = core.now();
  await core.records.revokeShare(id, now);
  // Keys already handed out through the link stop working at storage too.
  await revokeSubject(core, shareSubject(id), now);
}

/**
 * Opens a share link: a short read key for its object, if the link lives, the object is still
 * the version the link was made for (a link is to what was shared: a replaced or deleted object
 * ends it) and a get rule still allows the owner to read it (its `authorize` hook sees the share).
 * Returns where to send the reader.
 */
export async function openShare(core: IssuerCore, secret: string): Promise<string> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(secret)) throw new ValetError('not_found', 'no such share link');
  const found = await core.records.findShareBySecret(await sha256Hex(secret));
  const now = core.now();
  if (!found || found.revokedAt !== null || found.expiresAt <= now) {
    throw new ValetError('not_found', 'this share link does not exist, expired or was revoked');
  }
  const record = await core.records.getObject(found.object);
  if (record?.state !== 'complete') throw new ValetError('not_found', 'the shared object no longer exists');
  if (found.etag !== null && record.etag !== found.etag) {
    throw new ValetError(
      'not_found',
      'the shared object was replaced since this link was made: the link shared the earlier version only',
    );
  }
  refuseIfPending(record, 'the shared object cannot be opened yet');
  const owner = ruleContext({ subject: found.owner, claims: {} }, undefined);
  const { name, rule } = await pickRule(core, owner, 'get', found.object, undefined, found);
  const ttl = Math.max(1, Math.min(SHARE_KEY_TTL, Math.floor((found.expiresAt - now) / 1000)));
  const claims = buildClaims({
    op: 'get',
    object: found.object,
    subject: shareSubject(found.id),
    ttl,
    // Saved under the name the file had when it was uploaded.
    ...(record.description?.filename !== undefined && { filename: record.description.filename }),
    ...core.revocationOf(rule),
    now: core.now,
  });
  await core.records.recordGrant(core.grant(claims, name, {}, found.id));
  return (await core.sign(claims)).url;
}
