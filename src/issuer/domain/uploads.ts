import type { DriverContext, MultipartUploads } from '../../drivers/types.js';
import { ValetError } from '../../token/errors.js';
import { buildClaims } from '../../token/mint.js';
import { RevocationIndex } from '../../token/revocations.js';
import type { CallerInfo, KeyRequest, MintedKey } from '../api.js';
import type { Identity } from '../auth/identity.js';
import { type Claims, type IssuerCore, mintedKey, withEnforcement } from '../core.js';
import type { GrantRecord, Quota, StoreMultipart } from '../records/records.js';
import type { Rule } from '../rules.js';
import { revocationFeed } from './revocations.js';

const MIB = 1024 * 1024;

/** Part size for a multipart upload: 8 MiB, or more to stay within 10 000 parts. */
export function partSizeFor(size: number): number {
  return Math.max(8 * MIB, Math.ceil(size / 10_000 / MIB) * MIB);
}

function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** Bytes of part `n` (1-based): the part size, except the last part, which holds the rest. */
function partBytes(n: number, size: number, partSize: number, count: number): number {
  return n < count ? partSize : size - (count - 1) * partSize;
}

/**
 * A fresh key for the caller's resumable upload: only its owner may renew it, only while it is
 * unfinished, unrevoked and younger than the upload lifetime, and only with the limits it was
 * created with. Each renewal is a grant of its own, counted against the upload.
 */
export async function renewUpload(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  caller: CallerInfo,
): Promise<MintedKey> {
  const id = req.upload as string;
  const extra = Object.keys(req).filter((k) => k !== 'op' && k !== 'upload');
  if (extra.length > 0) {
    throw new ValetError(
      'bad_request',
      `a renewal keeps the upload's scope: ${extra.join(', ')} not allowed`,
    );
  }
  const { created, rule } = await ownUpload(core, identity, id);
  if (created.constraints.multipart !== undefined) {
    throw new ValetError('bad_request', `this upload's parts are signed at /v1/uploads/${id}/parts`);
  }
  const c = created.constraints;
  const claims = buildClaims({
    op: 'put',
    object: created.object,
    subject: created.subject,
    ttl: core.ttlOf(rule),
    ...(c.max_size !== undefined && { maxSize: c.max_size }),
    ...(c.min_size !== undefined && { minSize: c.min_size }),
    ...(c.size !== undefined && { size: c.size }),
    ...(c.content_types !== undefined && { contentTypes: c.content_types }),
    ...(c.sha256 !== undefined && { sha256: c.sha256 }),
    ...(c.no_overwrite && { noOverwrite: true }),
    upload: id,
    ...core.revocationOf(rule),
    now: core.now,
  });
  const renewals = await recordRenewal(core, created, claims, caller);
  core.log?.info({ upload: id, sub: identity.subject, renewals }, 'resumable upload key renewed');
  return core.sign(claims, undefined, { upload: { id, protocol: 'tus', renewals } });
}

/** Records a key renewing the upload `created` made (it carries the upload's reservation); returns the count. */
function recordRenewal(
  core: IssuerCore,
  created: GrantRecord,
  claims: Claims,
  caller: CallerInfo,
): Promise<number> {
  const grant = core.grant(claims, created.rule, caller);
  grant.reservedBytes = created.reservedBytes;
  if (created.description) grant.description = created.description;
  return core.records.renewUpload(grant, created.id, core.now());
}

/**
 * The caller's resumable upload `id`, if it may still be continued: it exists, belongs to the
 * caller, is unfinished, younger than the upload lifetime, unrevoked, and its rule still exists.
 */
async function ownUpload(
  core: IssuerCore,
  identity: Identity,
  id: string,
): Promise<{ created: GrantRecord; rule: Rule }> {
  const created = await core.records.getGrant(id);
  if (created?.op !== 'put' || created.constraints.resumable !== true) {
    throw new ValetError('not_found', 'no such resumable upload');
  }
  if (created.subject !== identity.subject)
    throw new ValetError('forbidden', 'this upload belongs to someone else');
  if (created.completedAt !== null) throw new ValetError('upload_gone', 'this upload is already finished');
  if (core.now() > created.issuedAt + core.uploadLifetime * 1000) {
    throw new ValetError('upload_gone', 'this upload has expired');
  }
  const rule = core.options.rules[created.rule];
  if (rule?.op !== 'put') throw new ValetError('forbidden', 'the rule that allowed this upload is gone');
  const { list } = await revocationFeed(core);
  const revoked = new RevocationIndex(list).reason(
    {
      op: 'put',
      obj: created.object,
      sub: created.subject,
      jti: id,
      iat: Math.floor(created.issuedAt / 1000),
      nbf: 0,
      exp: Math.floor(created.expiresAt / 1000),
    },
    created.kid,
  );
  if (revoked) throw new ValetError('token_revoked', 'this upload was revoked');
  return { created, rule };
}

/**
 * Starts a multipart upload for a resumable put on a store that has them: the store's upload is
 * recorded with the creating grant, which reserves the quota (the upload is aborted if it cannot).
 */
export async function startMultipart(
  core: IssuerCore,
  multipart: MultipartUploads,
  start: { claims: Claims; grant: GrantRecord; quota: Quota; request: KeyRequest },
): Promise<MintedKey> {
  const { claims, grant, quota, request } = start;
  // (A store checks a whole-object SHA-256 only in a single request.)
  if (claims.sha256 !== undefined) {
    throw new ValetError('resumable_unsupported', 'this store takes this upload in one request only');
  }
  if (request.size === undefined) {
    throw new ValetError('bad_request', 'a resumable upload to this store needs its size');
  }
  const context = core.driverContext(claims.sub, '(multipart)');
  const partSize = partSizeFor(request.size);
  const state: StoreMultipart = {
    upload_id: await multipart.create(
      {
        object: claims.obj,
        ...(request.contentType !== undefined && { contentType: request.contentType }),
        size: request.size,
        partSize,
        ...(claims.no_overwrite === true && { noOverwrite: true }),
      },
      context,
    ),
    part_size: partSize,
    ...(request.contentType !== undefined && { content_type: request.contentType }),
  };
  grant.constraints = { ...grant.constraints, multipart: state };
  try {
    await core.reserve(grant, quota, context.now);
  } catch (error) {
    await multipart.abort(claims.obj, state.upload_id, context).catch(() => {});
    throw error;
  }
  const parts = partCount(request.size, state.part_size);
  return withEnforcement(
    mintedKey(
      claims,
      { method: 'POST', url: `/v1/uploads/${claims.jti}`, headers: {} },
      {
        upload: {
          id: claims.jti,
          protocol: multipart.protocol,
          renewals: 0,
          partSize: state.part_size,
          parts,
        },
      },
    ),
    core.driver.enforcement(),
  );
}

/** A multipart upload of the caller's, with what its requests need. */
export interface OwnMultipart {
  id: string;
  created: GrantRecord;
  rule: Rule;
  state: StoreMultipart;
  store: MultipartUploads;
  size: number;
  count: number;
}

/** The caller's multipart upload `id`, if it may still be continued (see {@link ownUpload}). */
export async function ownMultipart(core: IssuerCore, identity: Identity, id: string): Promise<OwnMultipart> {
  const { created, rule } = await ownUpload(core, identity, id);
  const { multipart: state, size } = created.constraints;
  const store = core.multipart();
  // A multipart upload's grant has its state and its exact size (see startMultipart).
  if (!state || !store || size === undefined) throw new ValetError('not_found', 'no such multipart upload');
  return { id, created, rule, state, store, size, count: partCount(size, state.part_size) };
}

/** The parts the store holds for the upload. */
export async function heldParts(
  core: IssuerCore,
  upload: OwnMultipart,
): Promise<Array<{ part: number; size: number }>> {
  const context = core.driverContext(upload.created.subject, '(multipart)');
  const parts = await upload.store.listParts(upload.created.object, upload.state.upload_id, context, {
    size: upload.size,
    partSize: upload.state.part_size,
  });
  return parts.map((p) => ({ part: p.partNumber, size: p.size }));
}

/** Cancels the upload: the store drops the parts, and the upload takes no more parts or renewals. */
export async function cancelMultipart(
  core: IssuerCore,
  upload: OwnMultipart,
  revoke: (id: string) => Promise<void>,
): Promise<void> {
  const context = core.driverContext(upload.created.subject, '(multipart)');
  await upload.store.abort(upload.created.object, upload.state.upload_id, context);
  await revoke(upload.id);
  core.log?.info({ upload: upload.id, sub: upload.created.subject }, 'multipart upload cancelled');
}

/** The signed request for one part (its exact length, the rule's TTL), recorded as a grant. */
export async function signPart(core: IssuerCore, upload: OwnMultipart, part: unknown, caller: CallerInfo) {
  const { created, state, size, count } = upload;
  if (typeof part !== 'number' || !Number.isInteger(part) || part < 1 || part > count) {
    throw new ValetError('bad_request', `part must be a whole number from 1 to ${count}`);
  }
  const bytes = partBytes(part, size, state.part_size, count);
  const ttl = core.ttlOf(upload.rule);
  const context = core.driverContext(created.subject, '(multipart)');
  const signed = await upload.store.signPart(
    {
      object: created.object,
      uploadId: state.upload_id,
      partNumber: part,
      size: bytes,
      ttl,
      offset: (part - 1) * state.part_size,
      total: size,
    },
    context,
  );
  // Each part's request is a grant of its own, carrying the upload's reservation.
  const claims = buildClaims({
    op: 'put',
    object: created.object,
    subject: created.subject,
    ttl,
    size: bytes,
    upload: upload.id,
    now: core.now,
  });
  const renewals = await recordRenewal(core, created, claims, caller);
  return { part, size: bytes, signed, expiresAt: new Date(claims.exp * 1000).toISOString(), renewals };
}

/** Checks that parts 1..n are all held with their exact sizes (`412` otherwise), then completes. */
export async function completeMultipart(core: IssuerCore, upload: OwnMultipart): Promise<void> {
  const { created, state, size, count } = upload;
  const context = core.driverContext(created.subject, '(multipart)');
  const parts = await upload.store.listParts(created.object, state.upload_id, context, {
    size,
    partSize: state.part_size,
  });
  for (let n = 1; n <= count; n++) {
    const held = parts.find((p) => p.partNumber === n);
    if (held?.size !== partBytes(n, size, state.part_size, count)) {
      throw new ValetError('precondition_failed', `part ${n} of ${count} is missing or has the wrong size`);
    }
  }
  await upload.store.complete(
    {
      object: created.object,
      uploadId: state.upload_id,
      expectedSize: size,
      ...(state.content_type !== undefined && { contentType: state.content_type }),
      ...(created.constraints.no_overwrite === true && { noOverwrite: true }),
    },
    context,
  );
}

/** Where the last pass over the issuer's own records of uploads stopped (see {@link abortStaleUploads}). */
export interface StaleCursor {
  issuedAt: number;
  id: string;
}

/** How far back a first pass looks: GCS drops an unfinished session a week after it started. */
export const SESSION_LIFETIME = 7 * 24 * 3600_000;
const PAGE = 200;

/**
 * Aborts the store's multipart uploads older than the upload lifetime; returns how many. A store
 * that lists its uploads (S3, Azure) finds them itself. One that lists none (GCS sessions) has
 * the issuer go through its own records of uploads instead, each once, from `cursor` on: those
 * unfinished whose lifetime has passed are cancelled at the store.
 */
export async function abortStaleUploads(core: IssuerCore, cursor: StaleCursor): Promise<number> {
  const store = core.multipart();
  if (!store) return 0;
  const context = core.driverContext('valet-issuer', '(multipart)');
  const olderThan = context.now - core.uploadLifetime * 1000;
  const aborted = store.abortStale
    ? await store.abortStale(olderThan, context)
    : await abortFromRecords(core, { store, context, cursor, olderThan });
  if (aborted > 0) core.log?.info({ aborted }, 'aborted stale multipart uploads');
  return aborted;
}

async function abortFromRecords(
  core: IssuerCore,
  pass: { store: MultipartUploads; context: DriverContext; cursor: StaleCursor; olderThan: number },
): Promise<number> {
  const { store, context, cursor, olderThan } = pass;
  let aborted = 0;
  for (;;) {
    const page = await core.records.unfinishedUploads(cursor, olderThan, PAGE);
    for (const grant of page) {
      const state = grant.constraints.multipart;
      if (state === undefined) continue;
      try {
        await store.abort(grant.object, state.upload_id, context);
        aborted++;
      } catch (error) {
        // Looked at again by the next issuer to start; the store drops it after a week anyway.
        core.log?.warn({ upload: grant.id, err: error }, 'could not cancel a stale upload at the store');
      }
    }
    const last = page[page.length - 1];
    if (last) {
      cursor.issuedAt = last.issuedAt;
      cursor.id = last.id;
    }
    if (page.length < PAGE) return aborted;
  }
}
