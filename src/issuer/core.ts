import type { Logger } from 'pino';
import { ownKeyOptions } from '../drivers/own-keys.js';
import type {
  Constraint,
  DriverContext,
  EnforcementTable,
  MultipartUploads,
  SignedRequest,
  SignOptions,
  StorageDriver,
} from '../drivers/types.js';
import type { ValetClaims } from '../token/claims.js';
import { buildClaims, signClaims } from '../token/mint.js';
import { DEFAULT_MAX_LIFETIME } from '../token/verify.js';
import { LinkHealth } from '../wire/link-health.js';
import type { CheckResult } from '../wire/readiness.js';
import { DEFAULT_UPLOAD_LIFETIME } from '../wire/storage-api.js';
import type { CallerInfo, MintedKey } from './api.js';
import type { Recorded } from './domain/events.js';
import { quotaRefusal } from './domain/quota-words.js';
import { IssuerMetrics } from './metrics.js';
import type { IssuerOptions } from './options.js';
import type { GrantRecord, Quota, RecordStore } from './records/records.js';
import { DEFAULT_KEY_TTL, DEFAULT_REVOCATION_STALENESS, type Rule } from './rules.js';
import type { SigningKeys } from './signer.js';
import { type RuleValidators, ruleValidators } from './validators.js';

/** Claims as {@link buildClaims} makes them. */
export type Claims = ValetClaims;

/**
 * What every part of the issuer shares: its options, records, store driver, signing keys and
 * clock. The domain modules (keys, uploads, completions, shares, revocations) are functions over
 * it; the HTTP routes parse, call them, and render.
 */
export class IssuerCore {
  readonly options: IssuerOptions;
  readonly records: RecordStore;
  readonly driver: StorageDriver;
  readonly signing: SigningKeys;
  readonly now: () => number;
  readonly log: Logger | undefined;
  /** Longest key lifetime, seconds. */
  readonly maxTtl: number;
  /** How long a resumable upload may be continued, seconds. */
  readonly uploadLifetime: number;
  /** Where the issuer is mounted (`''` or `/a/b`). */
  readonly basePath: string;
  /** Events being recorded now, by id: a second arrival waits for the first (see domain/events). */
  readonly completing = new Map<string, Promise<Recorded>>();
  /** Storage's signed requests (feed, events): refusals logged once per reason. */
  readonly storageLink: LinkHealth | undefined;
  /** The issuer's metrics (requests, refusals, keys minted, record-store latency). */
  readonly metrics: IssuerMetrics;
  /** Whether the identity provider answers (OIDC), for readiness; none with an `authenticate` hook. */
  identityReady: (() => Promise<CheckResult>) | undefined;
  /** The validators of each rule that validates uploads (checked at creation). */
  readonly validators: RuleValidators;
  /** Called when an upload recorded here waits for validation: the worker claims it at once. */
  validationQueued: () => void = () => {};
  /** Requests waiting here for a verdict, by upload id: woken when this issuer decides it. */
  readonly verdictWaiters = new Map<string, Set<() => void>>();

  constructor(
    options: IssuerOptions,
    records: RecordStore,
    driver: StorageDriver,
    signing: SigningKeys,
    metrics: IssuerMetrics = new IssuerMetrics(),
  ) {
    this.options = options;
    this.records = records;
    this.metrics = metrics;
    this.driver = driver;
    this.signing = signing;
    this.now = options.now ?? Date.now;
    this.log = options.logger;
    this.maxTtl = options.maxTtl ?? DEFAULT_MAX_LIFETIME;
    this.uploadLifetime = options.uploadLifetime ?? DEFAULT_UPLOAD_LIFETIME;
    this.basePath = options.basePath ?? '';
    this.storageLink =
      this.log && new LinkHealth(this.log, "storage's signed requests (revocation feed, events)");
    this.validators = ruleValidators(options.rules, options.validation, driver, records);
  }

  /** A request's path within the issuer: without the base path, whether or not the framework stripped it. */
  routePath(pathname: string): string {
    const base = this.basePath;
    if (base === '' || (pathname !== base && !pathname.startsWith(`${base}/`))) return pathname;
    return pathname.slice(base.length) || '/';
  }

  /** The store's multipart uploads, if that is how it takes resumable uploads. */
  multipart(): MultipartUploads | undefined {
    const resumable = this.driver.resumable;
    return resumable?.protocol === 'tus' ? undefined : resumable;
  }

  /** The lifetime of a key minted under `rule`, seconds. */
  ttlOf(rule: Rule): number {
    return Math.min(rule.ttl ?? DEFAULT_KEY_TTL, this.maxTtl);
  }

  /** The revocation bound the rule's keys carry (`rev`), or nothing for a strict rule (see Rule). */
  revocationOf(rule: Rule): { revocationStaleness?: number } {
    if (rule.revocation === 'strict') return {};
    return { revocationStaleness: rule.revocation ?? DEFAULT_REVOCATION_STALENESS };
  }

  async quotaFor(subject: string): Promise<Quota> {
    const { quota } = this.options;
    if (quota === undefined) return {};
    return typeof quota === 'function' ? await quota(subject) : quota;
  }

  /** Reserves the quota for an upload and records its grant, atomically; `quota_exceeded` if full. */
  async reserve(grant: GrantRecord, quota: Quota, now: number): Promise<void> {
    const reserved = await this.records.reserveUpload(grant, quota, now);
    if (!reserved.ok) throw quotaRefusal(quota, reserved.usage, { bytes: grant.reservedBytes, objects: 1 });
  }

  /** The audit record of a key. */
  grant(claims: Claims, rule: string, caller: CallerInfo, shareId: string | null = null): GrantRecord {
    const { op, obj, sub, jti, iat, nbf: _nbf, exp, ...constraints } = claims;
    this.metrics.minted(rule, op);
    return {
      id: jti,
      subject: sub,
      op,
      object: obj,
      rule,
      constraints,
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      kid: this.signing.active().kid,
      clientAddress: caller.clientAddress ?? null,
      userAgent: caller.userAgent ?? null,
      shareId,
      reservedBytes: 0,
      completedAt: null,
    };
  }

  /** What the driver gets for the issuer's own reads and deletions, on behalf of `subject`. */
  driverContext(subject: string, reason: string): DriverContext {
    const now = this.now();
    return {
      now,
      issuerKey: async (op, object, version) => {
        const claims = buildClaims({ ...ownKeyOptions(op, object, subject, version), now: () => now });
        await this.records.recordGrant(this.grant(claims, reason, {}));
        return signClaims(this.signing.active(), claims);
      },
    };
  }

  /** Signs `claims` for the store, and describes the key for the client. */
  async sign(claims: Claims, contentType?: string, extra: Partial<MintedKey> = {}): Promise<MintedKey> {
    const options: SignOptions = {
      now: claims.iat * 1000,
      ...(contentType !== undefined && { contentType }),
      objectType: async () => (await this.records.getObject(claims.obj))?.contentType ?? undefined,
      valetKey: () => signClaims(this.signing.active(), claims),
    };
    const signed = await this.driver.sign(claims, options);
    const minted = mintedKey(claims, signed, {
      ...(completes(claims) && { complete: `/v1/keys/${claims.upload ?? claims.jti}/complete` }),
      ...(this.driver.resumable &&
        (claims.resumable || claims.upload !== undefined) && {
          upload: { id: claims.upload ?? claims.jti, protocol: this.driver.resumable.protocol, renewals: 0 },
        }),
      ...extra,
    });
    return withEnforcement(minted, this.driver.enforcement());
  }
}

/**
 * A key's constraints as the store enforces them: what it cannot (a rule accepted that: `once` and
 * revocation on S3 and Azure) moves from `constraints` to `unenforced`, so a client is never told
 * a key is single-use when nothing makes it so.
 */
export function withEnforcement(key: MintedKey, table: EnforcementTable): MintedKey {
  const constraints: Record<string, unknown> = {};
  const unenforced: string[] = [];
  for (const [name, value] of Object.entries(key.constraints)) {
    if (table[name as Constraint] === 'none') unenforced.push(name);
    else if (!(name === 'rev' && table.revocation === 'none')) constraints[name] = value;
  }
  if (table.revocation === 'none') unenforced.push('revocation');
  return { ...key, constraints, ...(unenforced.length > 0 && { unenforced }) };
}

/**
 * Whether the client reports this key's request done: every upload and deletion on a store that
 * sends no events (the issuer verifies it there), and every upload on one that does (with the
 * receipt storage answered with, so that the upload is recorded before the client goes on).
 */
function completes(claims: Claims): boolean {
  // Every upload and deletion: a store that sends events answers with a receipt to pass on (so
  // the listing has the change at once), any other store is checked by the issuer.
  return claims.op === 'put' || claims.op === 'delete';
}

/** The one place a {@link MintedKey} is made: the claims, and the request that carries them. */
export function mintedKey(claims: Claims, request: SignedRequest, extra: Partial<MintedKey> = {}): MintedKey {
  const { op, obj, jti, exp, iat: _iat, nbf: _nbf, sub: _sub, ...constraints } = claims;
  return {
    id: jti,
    op,
    object: obj,
    url: request.url,
    method: request.method,
    headers: request.headers,
    ...(request.fields && { fields: request.fields }),
    expiresAt: new Date(exp * 1000).toISOString(),
    constraints,
    ...extra,
  };
}
