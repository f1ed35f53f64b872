import { z } from 'zod';
import { isMediaRange, mediaTypeEssence } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { type Limits, sizeRefusal, typeRefusal } from '../../token/limits.js';
import { buildClaims, type MintOptions } from '../../token/mint.js';
import { formatBytes } from '../../token/units.js';
import { contentTypeField, keyRequestFields, requestedObject } from '../../wire/issuer-api.js';
import type { CallerInfo, KeyRequest, MintedKey } from '../api.js';
import type { Identity } from '../auth/identity.js';
import type { IssuerCore } from '../core.js';
import { bindsDigest, pickPutRule, pickRule, type RequestSource, ruleContext } from '../policy.js';
import { exceeds, hasLimits, type ObjectDescription } from '../records/records.js';
import type { Rule } from '../rules.js';
import { refuseIfPending } from './pending.js';
import { quotaRefusal } from './quota-words.js';
import { renewUpload, startMultipart } from './uploads.js';

/** A key request in the issuer's own (camelCase) API: the wire's fields, `contentType` for `content_type`. */
const keyRequestSchema = z.object({ ...keyRequestFields, contentType: contentTypeField }).strict();

/**
 * Mints a key for an authenticated caller, by the rules: checks the request, picks the rule,
 * reserves the quota (put), records the grant and has the driver sign it. A renewal of a
 * resumable upload (`upload`) keeps that upload's scope.
 */
export async function mintKey(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  caller: CallerInfo,
  source?: RequestSource,
): Promise<MintedKey> {
  const parsed = keyRequestSchema.safeParse(req);
  if (!parsed.success)
    throw new ValetError('bad_request', `invalid key request: ${z.prettifyError(parsed.error)}`);
  if (req.op !== 'get' && req.disposition !== undefined) {
    throw new ValetError('bad_request', 'disposition applies to get keys only');
  }
  if (req.op === 'delete' && req.filename !== undefined) {
    throw new ValetError('bad_request', 'filename applies to get and put keys only');
  }
  if (req.op !== 'put' && req.metadata !== undefined) {
    throw new ValetError('bad_request', 'metadata applies to put keys only');
  }
  if (req.op !== 'put' && (req.resumable !== undefined || req.upload !== undefined)) {
    throw new ValetError('bad_request', 'resumable and upload apply to put keys only');
  }
  core.signing.active();
  if (req.upload !== undefined) return renewUpload(core, identity, req, caller);
  const ctx = ruleContext(identity, source);
  if (req.op === 'put') return mintPut(core, identity, req, caller, await pickPutRule(core, ctx, req));
  return mintRead(core, identity, req, caller, source);
}

async function mintPut(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  caller: CallerInfo,
  allowed: { name: string; rule: Rule; object: string },
): Promise<MintedKey> {
  const { name: ruleName, rule, object } = allowed;
  const now = core.now();
  const quota = await core.quotaFor(identity.subject);
  checkPutRequest(rule, req);
  // Without a declared size the key's ceiling is what the quota still allows.
  const room =
    quota.maxBytes === undefined || req.size !== undefined
      ? undefined
      : Math.max(0, quota.maxBytes - (await core.records.usage(identity.subject, now)).bytes);
  const maxSize = req.size === undefined ? minDefined(rule.maxSize, room) : undefined;
  const claims = buildClaims(putClaims(core, identity, req, rule, object, maxSize));
  const grant = core.grant(claims, ruleName, caller);
  grant.reservedBytes = req.size ?? maxSize ?? 0;
  const description = describes(req);
  if (description) grant.description = description;
  // An unfinished resumable upload stays at the store for the upload lifetime, whether or not its
  // keys are renewed: its reservation lasts as long (completion or a new upload of it ends it).
  if (req.resumable) grant.reservedUntil = grant.issuedAt + core.uploadLifetime * 1000;
  // A store with multipart uploads: the issuer starts one, signs it part by part, completes it.
  const multipart = req.resumable ? core.multipart() : undefined;
  if (multipart) return startMultipart(core, multipart, { claims, grant, quota, request: req });
  if (req.resumable && !core.driver.resumable) {
    throw new ValetError('resumable_unsupported', 'this store takes this upload in one request only');
  }
  await core.reserve(grant, quota, now);
  return core.sign(claims, req.contentType);
}

/**
 * Whether an upload would be allowed, without minting a key (`POST /v1/keys/check`): the rule,
 * the size and type, and the quota as they stand now, refused as minting would refuse them. A
 * client asks before it spends time on the file (hashing it, say); the digest a rule requires is
 * not asked for here, since the client computes it next.
 */
export async function checkUpload(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  source?: RequestSource,
): Promise<{ object: string; rule: string }> {
  const parsed = keyRequestSchema.safeParse(req);
  if (!parsed.success)
    throw new ValetError('bad_request', `invalid upload check: ${z.prettifyError(parsed.error)}`);
  if (req.op !== 'put') throw new ValetError('bad_request', 'only uploads are checked ahead');
  const { name, rule, object } = await pickPutRule(core, ruleContext(identity, source), req);
  checkPutRequest(rule, req, { digestLater: true });
  const quota = await core.quotaFor(identity.subject);
  if (req.size !== undefined && hasLimits(quota)) {
    const now = core.now();
    const usage = await core.records.usage(identity.subject, now);
    // An upload over an object of the caller's replaces its bytes (as a reservation counts it).
    const existing = await core.records.getObject(object);
    const replaced = existing?.state === 'complete' && existing.owner === identity.subject;
    const base = replaced ? { bytes: usage.bytes - (existing.size ?? 0), objects: usage.objects - 1 } : usage;
    const extra = { bytes: req.size, objects: 1 };
    if (exceeds(quota, base, extra)) throw quotaRefusal(quota, base, extra);
  }
  return { object, rule: name };
}

/** What a put request may ask for at all under `rule`, checked before anything is reserved. */
function checkPutRequest(rule: Rule, req: KeyRequest, options: { digestLater?: boolean } = {}): void {
  const limits = ruleLimits(rule);
  if (rule.requireSha256 && req.sha256 === undefined && !options.digestLater) {
    throw new ValetError('bad_request', 'this rule requires the SHA-256 of the body');
  }
  if (req.contentType !== undefined) {
    const essence = mediaTypeEssence(req.contentType);
    if (!isMediaRange(essence) || essence.endsWith('/*')) {
      throw new ValetError('bad_request', 'contentType is not a media type');
    }
    const badType = typeRefusal(limits, req.contentType);
    if (badType) throw badType;
  }
  const badSize =
    req.size === undefined ? undefined : sizeRefusal(limits, req.size, `the file (${formatBytes(req.size)})`);
  if (badSize) throw badSize;
}

/** A rule's size and type limits. */
function ruleLimits(rule: Rule): Limits {
  return {
    ...(rule.maxSize !== undefined && { maxSize: rule.maxSize }),
    ...(rule.minSize !== undefined && { minSize: rule.minSize }),
    ...(rule.contentTypes && { contentTypes: rule.contentTypes }),
  };
}

function putClaims(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  rule: Rule,
  object: string,
  maxSize: number | undefined,
): MintOptions {
  return {
    op: 'put',
    object,
    subject: identity.subject,
    ttl: core.ttlOf(rule),
    ...(req.size !== undefined ? { size: req.size } : maxSize !== undefined && { maxSize }),
    ...(req.size === undefined && rule.minSize !== undefined && { minSize: rule.minSize }),
    ...(req.contentType !== undefined
      ? { contentTypes: [mediaTypeEssence(req.contentType)] }
      : rule.contentTypes && { contentTypes: rule.contentTypes }),
    ...(req.sha256 !== undefined && bindsDigest(core, rule) && { sha256: req.sha256 }),
    ...(rule.createOnly && { noOverwrite: true }),
    // Validated content: storage holds the version until the issuer publishes it.
    ...(rule.validate && { hold: true }),
    // A resumable key sends many requests; it creates one upload, once, by construction.
    ...(req.resumable ? { resumable: true } : { once: rule.once ?? true }),
    ...core.revocationOf(rule),
    now: core.now,
  };
}

async function mintRead(
  core: IssuerCore,
  identity: Identity,
  req: KeyRequest,
  caller: CallerInfo,
  source: RequestSource | undefined,
): Promise<MintedKey> {
  const op = req.op as 'get' | 'delete';
  const wanted = requestedObject(req);
  if (wanted === undefined) throw new ValetError('bad_request', `a ${op} request needs the object`);
  const { name, rule, object } = await pickRule(core, ruleContext(identity, source), op, wanted, req.rule);
  const record = op === 'get' ? await core.records.getObject(object) : undefined;
  refuseIfPending(record, 'no read key yet');
  // A download is saved under the name the file had when it was uploaded, unless asked otherwise.
  const filename = op === 'get' ? (req.filename ?? record?.description?.filename) : undefined;
  const claims = buildClaims({
    op,
    object,
    subject: identity.subject,
    ttl: core.ttlOf(rule),
    once: rule.once ?? op === 'delete',
    ...(req.disposition === 'attachment' && { inline: false }),
    ...(filename !== undefined && { filename }),
    ...core.revocationOf(rule),
    now: core.now,
  });
  await core.records.recordGrant(core.grant(claims, name, caller));
  return core.sign(claims);
}

/** What a put request says of its object, if anything. */
function describes(req: KeyRequest): ObjectDescription | undefined {
  if (req.filename === undefined && req.metadata === undefined) return undefined;
  return {
    ...(req.filename !== undefined && { filename: req.filename }),
    ...(req.metadata !== undefined && Object.keys(req.metadata).length > 0 && { metadata: req.metadata }),
  };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
