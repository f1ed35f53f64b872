import type { Logger } from 'pino';
import { z } from 'zod';
import {
  contentTypeAllowed,
  isMediaRange,
  KEY_ID_CHARS,
  mediaTypeEssence,
  type Operation,
  type ValetClaims,
} from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import {
  importSigningKey,
  type JwkSet,
  type PrivateSigningJwk,
  publicJwk,
  type SigningKey,
} from '../token/keys.js';
import { buildClaims, keyUrl, type MintOptions, randomKeyId, signClaims } from '../token/mint.js';
import { normalizeObjectKey } from '../token/object-key.js';
import { RevocationIndex, type RevocationList } from '../token/revocations.js';
import { verifyRequestSignature } from '../token/signature.js';
import { DEFAULT_CLOCK_SKEW, DEFAULT_MAX_LIFETIME } from '../token/verify.js';
import { CorsPolicy } from '../wire/cors.js';
import { asValetError, renderError, wantsHtml } from '../wire/errors.js';
import { storageEventSchema } from '../wire/events.js';
import {
  contentTypeField,
  type KeyBody,
  keyRequestBodySchema,
  keyRequestFields,
  revocationRequestBodySchema,
  shareRequestBodySchema,
} from '../wire/issuer-api.js';
import { type OidcOptions, oidcHeaderCheck, oidcOptionsSchema } from './auth.js';
import type { HeadResult, StorageDriver } from './driver.js';
import { empty, fromRequest, HANDLE, type Incoming, json, type Outgoing, toResponse } from './exchange.js';
import type { EventRecord, GrantRecord, ObjectRecord, Quota, RecordStore, ShareRecord } from './records.js';
import {
  DEFAULT_KEY_TTL,
  DEFAULT_SHARE_TTL,
  type Identity,
  keyInPrefix,
  type Rule,
  type RuleContext,
  ruleConstraints,
  rulePrefix,
  ruleSchema,
  uploadKey,
} from './rules.js';
import { SqliteRecordStore } from './sqlite-records.js';

/** What an upload looked like when storage reported it, handed to `onUploadComplete`. */
export interface CompletedUpload {
  /** The storage event id (stable across redeliveries: use it to make the hook idempotent). */
  eventId: string;
  object: string;
  owner: string;
  size: number;
  contentType: string;
  sha256: string;
  etag: string;
  /** The key that uploaded it, if this issuer minted it. */
  grant: GrantRecord | undefined;
}

/** Options for {@link createIssuer}. */
export interface IssuerOptions {
  /** Private signing keys (Ed25519 JWKs). The first one not revoked signs; all are published. */
  signingKeys: readonly PrivateSigningJwk[];
  /** Valet storage's base URL clients use, e.g. `http://127.0.0.1:9000` (not with a `driver`). */
  storageUrl?: string;
  /**
   * Another store instead of Valet's own (for example `new S3Driver(…)` from `valet/drivers/s3`):
   * keys become the store's native signed requests, and uploads are verified when the client
   * reports them done (`POST /v1/keys/:id/complete`), deletions too.
   */
  driver?: StorageDriver;
  /** Named rules: what callers may do. A request no rule allows is refused with `forbidden`. */
  rules: Readonly<Record<string, Rule>>;
  /**
   * The app's own authentication: returns the caller's subject (or an {@link Identity}), or
   * `null` for an anonymous request. Exactly one of `authenticate` and `oidc` is required.
   */
  authenticate?: (request: Request) => string | Identity | null | Promise<string | Identity | null>;
  /** The built-in OIDC/JWT bearer check. */
  oidc?: OidcOptions;
  /** The secret shared with storage (completion webhooks, revocation feed), at least 32 bytes. */
  storageSecret: string;
  /** Per-subject quota: fixed, or chosen per subject. Default: unlimited. */
  quota?: Quota | ((subject: string) => Quota | Promise<Quota>);
  /** Where records are kept. Default: SQLite at `database`. */
  records?: RecordStore;
  /** SQLite file for the default record store. Default `:memory:` (lost on exit). */
  database?: string;
  /** Called once per committed upload, after it is recorded (at least once: use `eventId`). */
  onUploadComplete?: (upload: CompletedUpload) => void | Promise<void>;
  /** Longest key lifetime a rule may ask for, seconds. Default 3600 (storage's default maximum). */
  maxTtl?: number;
  /** Subjects allowed to revoke over HTTP (`POST /v1/revocations`). Default none. */
  admins?: readonly string[];
  /** The issuer's public base URL, for share links. Default: the origin of each request. */
  publicUrl?: string;
  /** Origins allowed to call the issuer from a browser. Default none (same origin only). */
  corsOrigins?: readonly string[];
  /** Use the first `X-Forwarded-For` address as the caller's address (behind a trusted proxy). */
  trustProxy?: boolean;
  /**
   * How long a resumable upload may be continued (its key renewed) after it was created, seconds.
   * Default 86 400, storage's default upload lifetime.
   */
  uploadLifetime?: number;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** A pino logger. Default: none. */
  logger?: Logger;
}

/** What a client asks the issuer for (`POST /v1/keys`). */
export interface KeyRequest {
  op: 'put' | 'get' | 'delete';
  /** The rule to use; default: the first rule for `op` that allows the request. */
  rule?: string;
  /** put: the proposed name (inside the rule's prefix). */
  name?: string;
  /** get/delete: the object key. */
  key?: string;
  /** put: the exact size the client will send. */
  size?: number;
  /** put: the content type the client will send. */
  contentType?: string;
  /** put: the body's SHA-256, hex. */
  sha256?: string;
  /**
   * get: `attachment` forces a download. Default: by content type (storage shows raster images,
   * audio, video and PDF inline, and makes everything else a download). A client cannot ask for
   * `inline`: what users upload never renders as a page because a client said so.
   */
  disposition?: 'attachment';
  /** get: the download file name. */
  filename?: string;
  /**
   * put: a key for a resumable upload (tus on Valet storage), which may send the body in many
   * requests over a longer time, renewing its key with `upload`.
   */
  resumable?: boolean;
  /**
   * put: renew the key of the caller's resumable upload with this id (the `upload.id` of the key
   * that created it). The new key has the same object and limits, and a fresh expiry.
   */
  upload?: string;
}

/** A minted key, as returned to the client. */
export interface MintedKey {
  id: string;
  op: Operation;
  object: string;
  /** Where to send the request, key included. */
  url: string;
  method: 'PUT' | 'POST' | 'GET' | 'DELETE' | 'PATCH';
  /** POST (S3 policy): form fields to send before the file. */
  fields?: Record<string, string>;
  /** With a driver: where the client reports the upload done, so the issuer verifies it. */
  complete?: string;
  /** Headers the client must send (the content type bound into a put key). */
  headers: Record<string, string>;
  expiresAt: string;
  constraints: Record<string, unknown>;
  /**
   * A resumable upload: its id, its protocol (`tus` on Valet storage, `s3-multipart` with a
   * driver, whose parts have `partSize` bytes but the last), and how many keys renewed it.
   */
  upload?: {
    id: string;
    protocol: 'tus' | 's3-multipart';
    renewals: number;
    partSize?: number;
    parts?: number;
  };
}

/** A share link. */
export interface ShareLink {
  id: string;
  url: string;
  object: string;
  expiresAt: string;
}

/** Caller details recorded with each key. */
export interface CallerInfo {
  clientAddress?: string | null;
  userAgent?: string | null;
}

/** The issuer: a web-standard handler plus the same operations as functions. */
export interface Issuer {
  /** Handles one HTTP request (mount in Node's http, Hono, Next.js route handlers, Bun, Deno). */
  fetch(request: Request, info?: { clientAddress?: string }): Promise<Response>;
  /** Mints a key for an already authenticated caller, by the rules. */
  mint(identity: Identity | string, request: KeyRequest, caller?: CallerInfo): Promise<MintedKey>;
  /** The caller's complete objects. */
  list(identity: Identity | string): Promise<ObjectRecord[]>;
  /** Creates a share link for an object the caller may share. */
  share(identity: Identity | string, key: string, ttlSeconds: number, baseUrl?: string): Promise<ShareLink>;
  /** Revokes a share link (only its owner may). */
  unshare(identity: Identity | string, id: string): Promise<void>;
  /** Revokes one key before its expiry. */
  revokeKey(id: string): Promise<void>;
  /**
   * With a driver that has multipart uploads: aborts those older than the upload lifetime (done
   * at start and every ten minutes anyway); returns how many.
   */
  abortStaleUploads(): Promise<number>;
  /** Revokes every key issued to `subject` at or before `before` (ms; default now). */
  revokeSubject(subject: string, before?: number): Promise<void>;
  /** Revokes a signing key: every key it signed, and it signs no more. */
  revokeSigningKey(kid: string): Promise<void>;
  /** The revocation list storage polls. */
  revocationList(): Promise<RevocationList>;
  /** The public keys storage trusts (revoked signing keys left out). */
  jwks(): JwkSet;
  /** The record store (audit queries). */
  readonly records: RecordStore;
  /** Stops timers and closes the record store (if the issuer opened it). */
  close(): Promise<void>;
}

const issuerOptionsSchema = z
  .object({
    signingKeys: z.array(z.object({ kid: z.string() }).passthrough()).min(1),
    storageUrl: z.url({ protocol: /^https?$/ }).optional(),
    driver: z
      .custom<StorageDriver>(
        (v) => typeof (v as StorageDriver | undefined)?.sign === 'function',
        'driver needs sign()',
      )
      .optional(),
    rules: z.record(
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'rule names are 1-64 of A-Z a-z 0-9 _ . -'),
      ruleSchema,
    ),
    authenticate: z.function().optional(),
    oidc: oidcOptionsSchema.optional(),
    storageSecret: z.string().min(32, 'storageSecret must be at least 32 characters'),
    quota: z
      .union([
        z
          .object({
            maxBytes: z.number().int().min(0).optional(),
            maxObjects: z.number().int().min(0).optional(),
          })
          .strict(),
        z.function(),
      ])
      .optional(),
    records: z.custom<RecordStore>((v) => typeof (v as RecordStore)?.reserveUpload === 'function').optional(),
    database: z.string().min(1).optional(),
    onUploadComplete: z.function().optional(),
    maxTtl: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    admins: z.array(z.string().min(1)).optional(),
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    corsOrigins: z.array(z.string()).optional(),
    trustProxy: z.boolean().optional(),
    uploadLifetime: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional(),
    now: z.function().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .strict()
  .refine((o) => (o.authenticate === undefined) !== (o.oidc === undefined), {
    message: 'exactly one of authenticate and oidc is required',
  })
  .refine((o) => (o.storageUrl === undefined) !== (o.driver === undefined), {
    message: 'exactly one of storageUrl (Valet storage) and driver is required',
  });

const keyRequestSchema = z.object({ ...keyRequestFields, contentType: contentTypeField }).strict();

/** Largest JSON body the issuer reads. */
const MAX_BODY = 64 * 1024;
/** Lifetime of a key minted when a share link is opened, seconds. */
const SHARE_KEY_TTL = 60;

const OP_METHOD = { put: 'PUT', get: 'GET', delete: 'DELETE' } as const;
/** `/v1/uploads/<id>`, optionally followed by `/parts` or `/complete`. */
const UPLOAD_ROUTE = new RegExp(`^/v1/uploads/(${KEY_ID_CHARS})(/parts|/complete)?$`);

/**
 * Creates the issuer: authenticates callers, applies rules and quotas, mints valet keys, records
 * every grant, completion and revocation, and publishes its public keys and revocation list.
 *
 * Routes: `POST /v1/keys`, `GET /v1/objects`, `POST /v1/shares`, `DELETE /v1/shares/:id`,
 * `GET /s/:secret` (share links), `POST /v1/revocations` (admins), `GET /v1/revocations` and
 * `POST /v1/events` (storage, HMAC-signed), `GET /.well-known/jwks.json`, `GET /healthz`.
 *
 * @example
 * ```ts
 * const issuer = await createIssuer({
 *   signingKeys: [jwk], storageUrl: 'http://127.0.0.1:9000', storageSecret,
 *   oidc: { issuer: 'https://id.example.com', audience: 'my-app' },
 *   rules: { upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 10 * 2 ** 20 } },
 * })
 * http.createServer(toNodeListener(issuer)).listen(8080)
 * ```
 */
export async function createIssuer(options: IssuerOptions): Promise<Issuer> {
  const parsed = issuerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValetError('invalid_options', `invalid issuer options: ${z.prettifyError(parsed.error)}`);
  }
  if (options.driver) checkEnforcement(options.driver, options.rules);
  const signingKeys: SigningKey[] = [];
  for (const jwk of options.signingKeys) signingKeys.push(await importSigningKey(jwk));
  const ownsRecords = options.records === undefined;
  const records = options.records ?? SqliteRecordStore.open(options.database ?? ':memory:');
  const now = options.now ?? Date.now;
  const { revocations } = await records.activeRevocations(now());
  const revokedKids = new Set(revocations.filter((r) => r.kind === 'signing_key').map((r) => r.value));
  return new ValetIssuer(options, signingKeys, records, ownsRecords, revokedKids);
}

class ValetIssuer implements Issuer {
  readonly records: RecordStore;
  readonly #options: IssuerOptions;
  readonly #signingKeys: SigningKey[];
  readonly #publicJwks: Map<string, ReturnType<typeof publicJwk>>;
  readonly #revokedKids: Set<string>;
  readonly #ownsRecords: boolean;
  readonly #now: () => number;
  readonly #maxTtl: number;
  readonly #uploadLifetime: number;
  readonly #authenticate: (incoming: Incoming) => Promise<Identity | null>;
  readonly #cors: CorsPolicy;
  readonly #log: Logger | undefined;
  readonly #sweep: NodeJS.Timeout;
  #staleSweep: NodeJS.Timeout | undefined;

  constructor(
    options: IssuerOptions,
    signingKeys: SigningKey[],
    records: RecordStore,
    ownsRecords: boolean,
    revokedKids: Set<string>,
  ) {
    this.#options = options;
    this.#signingKeys = signingKeys;
    this.#publicJwks = new Map(options.signingKeys.map((jwk) => [jwk.kid, publicJwk(jwk)]));
    this.#revokedKids = revokedKids;
    this.records = records;
    this.#ownsRecords = ownsRecords;
    this.#now = options.now ?? Date.now;
    this.#maxTtl = options.maxTtl ?? DEFAULT_MAX_LIFETIME;
    this.#uploadLifetime = options.uploadLifetime ?? 86_400;
    this.#cors = new CorsPolicy(options.corsOrigins ?? [], {
      methods: 'GET, POST, DELETE',
      allowHeaders: 'authorization, content-type',
      exposeHeaders: 'etag',
    });
    this.#log = options.logger;
    const { authenticate, oidc } = options;
    if (authenticate) {
      this.#authenticate = async (incoming) => {
        const result = await authenticate(incoming.request());
        if (result === null) return null;
        return typeof result === 'string' ? { subject: result, claims: {} } : result;
      };
    } else {
      const check = oidcHeaderCheck(oidc as OidcOptions, this.#now);
      this.#authenticate = (incoming) => check(incoming.header('authorization'));
    }
    // Uploads that never complete: their pending rows lapse (reservations lapse with their keys).
    this.#sweep = setInterval(() => void this.records.expirePending(this.#now()).catch(() => {}), 60_000);
    this.#sweep.unref();
    // Multipart uploads nobody can continue any more (older than the upload lifetime) are aborted,
    // now and every ten minutes, so the store does not keep their parts.
    if (options.driver?.abortStaleMultiparts) {
      void this.abortStaleUploads().catch(() => {});
      this.#staleSweep = setInterval(() => void this.abortStaleUploads().catch(() => {}), 600_000);
      this.#staleSweep.unref();
    }
  }

  // ---- plain functions ----------------------------------------------------------------------

  async mint(
    who: Identity | string,
    req: KeyRequest,
    caller: CallerInfo = {},
    incoming?: Incoming,
  ): Promise<MintedKey> {
    const identity = toIdentity(who);
    const parsed = keyRequestSchema.safeParse(req);
    if (!parsed.success)
      throw new ValetError('bad_request', `invalid key request: ${z.prettifyError(parsed.error)}`);
    const ctx = ruleContext(identity, incoming);
    if (req.op !== 'get' && (req.disposition !== undefined || req.filename !== undefined)) {
      throw new ValetError('bad_request', 'disposition and filename apply to get keys only');
    }
    if (req.op !== 'put' && (req.resumable !== undefined || req.upload !== undefined)) {
      throw new ValetError('bad_request', 'resumable and upload apply to put keys only');
    }
    const signing = this.#activeSigningKey();
    const now = this.#now();
    if (req.upload !== undefined) return this.#renewUpload(identity, req, signing, caller);

    if (req.op === 'put') {
      const { name: ruleName, rule, object } = await this.#pickPutRule(ctx, req);
      const quota = await this.#quotaFor(identity.subject);
      const ttl = this.#ttlOf(rule);
      if (rule.requireSha256 && req.sha256 === undefined) {
        throw new ValetError('bad_request', 'this rule requires the SHA-256 of the body');
      }
      if (req.contentType !== undefined) {
        const essence = mediaTypeEssence(req.contentType);
        if (!isMediaRange(essence) || essence.endsWith('/*')) {
          throw new ValetError('bad_request', 'contentType is not a media type');
        }
      }
      if (req.contentType !== undefined && rule.contentTypes) {
        if (
          !contentTypeAllowed(
            req.contentType,
            rule.contentTypes.map((t) => t.toLowerCase()),
          )
        ) {
          throw new ValetError(
            'unsupported_media_type',
            `this rule allows only ${rule.contentTypes.join(', ')}`,
          );
        }
      }
      if (req.size !== undefined) {
        if (rule.maxSize !== undefined && req.size > rule.maxSize) {
          throw new ValetError('entity_too_large', `this rule allows at most ${rule.maxSize} bytes`);
        }
        if (rule.minSize !== undefined && req.size < rule.minSize) {
          throw new ValetError('entity_too_small', `this rule requires at least ${rule.minSize} bytes`);
        }
      }
      // Without a declared size the key's ceiling is what the quota still allows.
      const room =
        quota.maxBytes === undefined || req.size !== undefined
          ? undefined
          : Math.max(0, quota.maxBytes - (await this.records.usage(identity.subject, now)).bytes);
      const maxSize = req.size === undefined ? minDefined(rule.maxSize, room) : undefined;
      const mintOptions: MintOptions = {
        op: 'put',
        object,
        subject: identity.subject,
        ttl,
        ...(req.size !== undefined ? { size: req.size } : maxSize !== undefined && { maxSize }),
        ...(req.size === undefined && rule.minSize !== undefined && { minSize: rule.minSize }),
        ...(req.contentType !== undefined
          ? { contentTypes: [mediaTypeEssence(req.contentType)] }
          : rule.contentTypes && { contentTypes: rule.contentTypes }),
        ...(req.sha256 !== undefined && this.#bindsDigest(rule) && { sha256: req.sha256 }),
        ...(rule.createOnly && { noOverwrite: true }),
        // A resumable key sends many requests; it creates one upload, once, by construction.
        ...(req.resumable ? { resumable: true } : { once: rule.once ?? true }),
        now: this.#now,
      };
      const claims = buildClaims(mintOptions);
      const grant = this.#grant(claims, ruleName, signing.kid, caller, null);
      grant.reservedBytes = req.size ?? maxSize ?? 0;
      const { driver } = this.#options;
      let multipart: Multipart | undefined;
      if (req.resumable && driver) {
        // Another store: a multipart upload the issuer starts, signs part by part, and completes.
        if (!driver.createMultipart || claims.sha256 !== undefined) {
          // (A store checks a whole-object SHA-256 only in a single request.)
          throw new ValetError('resumable_unsupported', 'this store takes this upload in one request only');
        }
        if (req.size === undefined) {
          throw new ValetError('bad_request', 'a resumable upload to this store needs its size');
        }
        multipart = {
          upload_id: await driver.createMultipart({
            object,
            ...(req.contentType !== undefined && { contentType: req.contentType }),
          }),
          part_size: partSizeFor(req.size),
        };
        grant.constraints = { ...grant.constraints, multipart };
      }
      const reserved = await this.records.reserveUpload(grant, quota, now);
      if (!reserved.ok) {
        if (multipart) await driver?.abortMultipart?.(object, multipart.upload_id).catch(() => {});
        throw new ValetError('quota_exceeded', 'this upload would exceed your storage quota');
      }
      if (multipart) {
        const { op: _op, obj: _obj, sub: _sub, jti, iat: _iat, nbf: _nbf, exp, ...constraints } = claims;
        return {
          id: jti,
          op: 'put',
          object,
          url: `/v1/uploads/${jti}`,
          method: 'POST',
          headers: {},
          expiresAt: new Date(exp * 1000).toISOString(),
          constraints,
          upload: {
            id: jti,
            protocol: 's3-multipart',
            renewals: 0,
            partSize: multipart.part_size,
            parts: partCount(req.size as number, multipart.part_size),
          },
        };
      }
      return this.#sign(signing, claims, req.contentType);
    }

    const key = req.key;
    if (key === undefined) throw new ValetError('bad_request', `a ${req.op} request needs the object key`);
    const { name: ruleName, rule, object } = await this.#pickRule(ctx, req.op, key, req.rule);
    const claims = buildClaims({
      op: req.op,
      object,
      subject: identity.subject,
      ttl: this.#ttlOf(rule),
      once: rule.once ?? req.op === 'delete',
      ...(req.disposition === 'attachment' && { inline: false }),
      ...(req.filename !== undefined && { filename: req.filename }),
      now: this.#now,
    });
    await this.records.recordGrant(this.#grant(claims, ruleName, signing.kid, caller, null));
    // A driver's read request names the type the store must answer with (from the registry).
    const known =
      req.op === 'get' && this.#options.driver
        ? (await this.records.getObject(object))?.contentType
        : undefined;
    return this.#sign(signing, claims, known ?? undefined);
  }

  async list(who: Identity | string): Promise<ObjectRecord[]> {
    return this.records.listObjects(toIdentity(who).subject);
  }

  async share(who: Identity | string, key: string, ttlSeconds: number, baseUrl?: string): Promise<ShareLink> {
    const identity = toIdentity(who);
    const { rule, object } = await this.#pickRule(ruleContext(identity, undefined), 'share', key);
    const maxShareTtl = rule.ttl ?? DEFAULT_SHARE_TTL;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > maxShareTtl) {
      throw new ValetError('bad_request', `a share link lives from 1 to ${maxShareTtl} seconds`);
    }
    const record = await this.records.getObject(object);
    if (record?.state !== 'complete') throw new ValetError('not_found', 'no such object');
    const now = this.#now();
    const secret = randomKeyId() + randomKeyId();
    const share: ShareRecord = {
      id: `shr_${randomKeyId()}`,
      secretHash: await sha256Hex(secret),
      object,
      owner: identity.subject,
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
      revokedAt: null,
    };
    await this.records.createShare(share);
    const base = (this.#options.publicUrl ?? baseUrl ?? '').replace(/\/$/, '');
    return {
      id: share.id,
      url: `${base}/s/${secret}`,
      object,
      expiresAt: new Date(share.expiresAt).toISOString(),
    };
  }

  async unshare(who: Identity | string, id: string): Promise<void> {
    const identity = toIdentity(who);
    const share = await this.records.getShare(id);
    // Someone else's share is answered like a missing one: share ids are not an oracle.
    if (!share || share.owner !== identity.subject) throw new ValetError('not_found', 'no such share');
    const now = this.#now();
    await this.records.revokeShare(id, now);
    // Keys already handed out through the link stop working at storage too.
    await this.revokeSubject(shareSubject(id), now);
  }

  async abortStaleUploads(): Promise<number> {
    const driver = this.#options.driver;
    if (!driver?.abortStaleMultiparts) return 0;
    const aborted = await driver.abortStaleMultiparts(new Date(this.#now() - this.#uploadLifetime * 1000));
    if (aborted > 0) this.#log?.info({ aborted }, 'aborted stale multipart uploads');
    return aborted;
  }

  async revokeKey(id: string): Promise<void> {
    const grant = await this.records.getGrant(id);
    const now = this.#now();
    let until = grant?.expiresAt ?? now + this.#maxTtl * 1000;
    // A resumable upload's id stays revoked for as long as a renewed key could continue it.
    if (grant?.constraints.resumable === true) {
      until = Math.max(until, grant.issuedAt + this.#uploadLifetime * 1000 + this.#maxTtl * 1000);
    }
    const expiresAt = until + DEFAULT_CLOCK_SKEW * 1000;
    await this.records.addRevocation({ kind: 'key', value: id, before: null, expiresAt, createdAt: now });
  }

  async revokeSubject(subject: string, before = this.#now()): Promise<void> {
    const now = this.#now();
    await this.records.addRevocation({
      kind: 'subject',
      value: subject,
      before,
      expiresAt: before + (this.#maxTtl + DEFAULT_CLOCK_SKEW) * 1000,
      createdAt: now,
    });
  }

  async revokeSigningKey(kid: string): Promise<void> {
    const now = this.#now();
    const century = 100 * 365 * 24 * 3600 * 1000;
    await this.records.addRevocation({
      kind: 'signing_key',
      value: kid,
      before: null,
      expiresAt: now + century,
      createdAt: now,
    });
    this.#revokedKids.add(kid);
  }

  async revocationList(): Promise<RevocationList> {
    return (await this.#revocationFeed()).list;
  }

  async #revocationFeed(): Promise<{ version: string; list: RevocationList }> {
    const { version, revocations } = await this.records.activeRevocations(this.#now());
    const list: RevocationList = { keys: [], subjects: [], signing_keys: [] };
    for (const r of revocations) {
      if (r.kind === 'key') list.keys.push({ jti: r.value, exp: Math.ceil(r.expiresAt / 1000) });
      else if (r.kind === 'subject')
        list.subjects.push({ sub: r.value, before: Math.floor((r.before ?? 0) / 1000) });
      else list.signing_keys.push(r.value);
    }
    return { version, list };
  }

  jwks(): JwkSet {
    return { keys: [...this.#publicJwks.values()].filter((k) => !this.#revokedKids.has(k.kid)) };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    clearInterval(this.#staleSweep);
    if (this.#ownsRecords) await this.records.close();
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  async fetch(request: Request, info: { clientAddress?: string } = {}): Promise<Response> {
    return toResponse(await this[HANDLE](fromRequest(request, info.clientAddress)));
  }

  /** The handler behind `fetch`, also used directly by the Node adapter (no undici objects). */
  async [HANDLE](incoming: Incoming): Promise<Outgoing> {
    const started = performance.now();
    let out: Outgoing;
    try {
      out = await this.#route(incoming);
    } catch (error) {
      out = this.#errorResponse(error);
    }
    this.#withCors(incoming, out);
    this.#log?.info(
      {
        method: incoming.method,
        path: loggedPath(incoming.url.pathname),
        status: out.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
    return out;
  }

  async #route(incoming: Incoming): Promise<Outgoing> {
    const { url, method } = incoming;
    const path = url.pathname;
    if (method === 'OPTIONS') return this.#preflight(incoming);

    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/.well-known/jwks.json') {
      requireMethod(method, 'GET', 'HEAD');
      return json(200, this.jwks(), { 'cache-control': 'public, max-age=60' });
    }
    if (path === '/v1/revocations' && method === 'GET') {
      await verifyRequestSignature(
        this.#options.storageSecret,
        incoming.header('valet-signature'),
        {
          method: 'GET',
          path,
          body: '',
        },
        { now: this.#now() },
      );
      const { version, list } = await this.#revocationFeed();
      const etag = `"${version}"`;
      if (incoming.header('if-none-match') === etag) return empty(304, { etag });
      return json(200, list, { etag, 'cache-control': 'no-store' });
    }
    if (path === '/v1/events') {
      requireMethod(method, 'POST');
      return this.#onStorageEvent(incoming, path);
    }
    if (path.startsWith('/s/')) {
      requireMethod(method, 'GET');
      try {
        return await this.#openShare(path.slice(3));
      } catch (error) {
        // A person opening a dead link in a browser gets a readable page, not JSON.
        if (!(error instanceof ValetError) || !wantsHtml(incoming.header('accept'))) throw error;
        return this.#errorResponse(error, true);
      }
    }

    const caller: CallerInfo = {
      clientAddress: this.#clientAddress(incoming),
      userAgent: incoming.header('user-agent')?.slice(0, 512) ?? null,
    };
    if (path === '/v1/keys') {
      requireMethod(method, 'POST');
      const identity = await this.#identify(incoming);
      const body = keyRequestBodySchema.safeParse(await readJson(incoming));
      if (!body.success)
        throw new ValetError('bad_request', `invalid key request: ${z.prettifyError(body.error)}`);
      const { content_type, ...rest } = body.data;
      const request: KeyRequest = {
        ...rest,
        ...(content_type !== undefined && { contentType: content_type }),
      };
      const minted = await this.mint(identity, request, caller, incoming);
      return json(201, toWire(minted));
    }
    if (path.startsWith('/v1/uploads/')) {
      const identity = await this.#identify(incoming);
      return this.#multipartRoute(incoming, identity, caller);
    }
    if (path.startsWith('/v1/keys/') && path.endsWith('/complete')) {
      requireMethod(method, 'POST');
      const identity = await this.#identify(incoming);
      return this.#verifyCompletion(
        identity,
        decodeURIComponent(path.slice('/v1/keys/'.length, -'/complete'.length)),
      );
    }
    if (path === '/v1/objects') {
      requireMethod(method, 'GET');
      const identity = await this.#identify(incoming);
      const objects = await this.list(identity);
      return json(200, {
        objects: objects.map((o) => ({
          key: o.key,
          size: o.size,
          content_type: o.contentType,
          sha256: o.sha256,
          etag: o.etag,
          created_at: new Date(o.createdAt).toISOString(),
          updated_at: new Date(o.updatedAt).toISOString(),
        })),
      });
    }
    if (path === '/v1/shares' && method === 'GET') {
      const identity = await this.#identify(incoming);
      const shares = await this.records.listShares(identity.subject, this.#now());
      return json(200, {
        shares: shares.map((share) => ({
          id: share.id,
          object: share.object,
          created_at: new Date(share.createdAt).toISOString(),
          expires_at: new Date(share.expiresAt).toISOString(),
        })),
      });
    }
    if (path === '/v1/shares') {
      requireMethod(method, 'POST');
      const identity = await this.#identify(incoming);
      const body = shareRequestBodySchema.safeParse(await readJson(incoming));
      if (!body.success)
        throw new ValetError('bad_request', `invalid share request: ${z.prettifyError(body.error)}`);
      const link = await this.share(identity, body.data.key, body.data.ttl, url.origin);
      return json(201, { id: link.id, url: link.url, object: link.object, expires_at: link.expiresAt });
    }
    if (path.startsWith('/v1/shares/')) {
      requireMethod(method, 'DELETE');
      const identity = await this.#identify(incoming);
      await this.unshare(identity, decodeURIComponent(path.slice('/v1/shares/'.length)));
      return empty(204);
    }
    if (path === '/v1/revocations') {
      requireMethod(method, 'POST');
      const identity = await this.#identify(incoming);
      if (!this.#options.admins?.includes(identity.subject))
        throw new ValetError('forbidden', 'only admins may revoke');
      const body = revocationRequestBodySchema.safeParse(await readJson(incoming));
      if (!body.success)
        throw new ValetError('bad_request', `invalid revocation: ${z.prettifyError(body.error)}`);
      const { kind, value, before } = body.data;
      if (kind === 'key') await this.revokeKey(value);
      else if (kind === 'subject') await this.revokeSubject(value, before);
      else await this.revokeSigningKey(value);
      return json(201, { revoked: { kind, value } });
    }
    throw new ValetError('not_found', 'no such route');
  }

  async #identify(incoming: Incoming): Promise<Identity> {
    let identity: Identity | null;
    try {
      identity = await this.#authenticate(incoming);
    } catch (error) {
      if (error instanceof ValetError) throw error;
      throw new ValetError('unauthenticated', 'authentication failed', { cause: error });
    }
    if (!identity) throw new ValetError('unauthenticated', 'this request needs a bearer token');
    if (typeof identity.subject !== 'string' || identity.subject === '' || identity.subject.length > 256) {
      throw new ValetError('unauthenticated', 'the authenticated subject is empty or too long');
    }
    return identity;
  }

  async #onStorageEvent(incoming: Incoming, path: string): Promise<Outgoing> {
    const body = await incoming.text(MAX_BODY);
    await verifyRequestSignature(
      this.#options.storageSecret,
      incoming.header('valet-signature'),
      {
        method: 'POST',
        path,
        body,
      },
      { now: this.#now() },
    );
    const parsed = storageEventSchema.safeParse(safeJson(body));
    if (!parsed.success) throw new ValetError('bad_request', 'invalid storage event');
    const e = parsed.data;
    const now = this.#now();
    const record: EventRecord = {
      id: e.id,
      type: e.type,
      object: e.object,
      keyId: e.key_id,
      subject: e.subject,
      size: e.size,
      contentType: e.content_type,
      sha256: e.sha256,
      etag: e.etag,
      time: e.time,
      receivedAt: now,
    };
    return json(200, await this.#complete(record));
  }

  /** Records a storage event once; for an upload, re-checks the quota and calls the app's hook. */
  async #complete(record: EventRecord): Promise<{ received: string; duplicate: boolean }> {
    const now = record.receivedAt;
    const outcome = await this.records.recordEvent(record);
    if (outcome.handled || record.type !== 'object.created') {
      if (outcome.recorded) await this.records.markEventHandled(record.id, now);
      return { received: record.id, duplicate: !outcome.recorded };
    }
    const owner = outcome.grant?.subject ?? record.subject;
    const quota = await this.#quotaFor(owner);
    const usage = outcome.usage ?? (await this.records.usage(owner, now));
    if (
      (quota.maxBytes !== undefined && usage.bytes > quota.maxBytes) ||
      (quota.maxObjects !== undefined && usage.objects > quota.maxObjects)
    ) {
      // Checked again with the real size: the upload is removed, not kept over quota.
      this.#log?.warn({ object: record.object, owner, code: 'quota_exceeded' }, 'upload over quota removed');
      await this.#deleteFromStorage(record.object, owner);
      await this.records.dropObject(record.object, record.etag);
    } else if (this.#options.onUploadComplete) {
      await this.#options.onUploadComplete({
        eventId: record.id,
        object: record.object,
        owner,
        size: record.size,
        contentType: record.contentType,
        sha256: record.sha256,
        etag: record.etag,
        grant: outcome.grant,
      });
    }
    await this.records.markEventHandled(record.id, now);
    return { received: record.id, duplicate: !outcome.recorded };
  }

  /**
   * With a driver, the client reports an upload or a deletion done: the issuer reads the object's
   * head from the store and records the upload only if it keeps its key's constraints (an object
   * that breaks them is deleted, and the refusal is the answer), or the deletion only if the
   * object is gone.
   */
  async #verifyCompletion(identity: Identity, grantId: string): Promise<Outgoing> {
    const driver = this.#options.driver;
    const grant = await this.records.getGrant(grantId);
    if (
      !driver ||
      !grant ||
      (grant.op !== 'put' && grant.op !== 'delete') ||
      grant.subject !== identity.subject
    ) {
      throw new ValetError('not_found', 'no such upload or deletion');
    }
    const head = await driver.head(grant.object);
    if (grant.op === 'delete') {
      if (head) throw new ValetError('precondition_failed', 'the object is still in the store');
      const now = this.#now();
      await this.#complete({
        id: `verified:${grant.id}`,
        type: 'object.deleted',
        object: grant.object,
        keyId: grant.id,
        subject: grant.subject,
        size: 0,
        contentType: '',
        sha256: '',
        etag: '',
        time: new Date(now).toISOString(),
        receivedAt: now,
      });
      return json(200, { object: grant.object, deleted: true });
    }
    if (!head) throw new ValetError('not_found', 'the object is not in the store');
    const problem = constraintBroken(grant.constraints, head);
    if (problem) {
      this.#log?.warn({ object: grant.object, grant: grant.id, problem }, 'upload breaks its key: removed');
      await driver.delete(grant.object);
      await this.records.dropObject(grant.object, head.etag);
      throw new ValetError('upload_rejected', `the upload was removed: ${problem}`);
    }
    const now = this.#now();
    const record: EventRecord = {
      id: `verified:${grant.id}`,
      type: 'object.created',
      object: grant.object,
      keyId: grant.id,
      subject: grant.subject,
      size: head.size,
      contentType: head.contentType,
      sha256: head.sha256 ?? '',
      etag: head.etag,
      time: new Date(now).toISOString(),
      receivedAt: now,
    };
    await this.#complete(record);
    return json(200, {
      object: record.object,
      size: record.size,
      content_type: record.contentType,
      sha256: record.sha256,
      etag: record.etag,
    });
  }

  async #deleteFromStorage(object: string, owner: string): Promise<void> {
    if (this.#options.driver) {
      await this.#options.driver.delete(object);
      return;
    }
    const signing = this.#activeSigningKey();
    const claims = buildClaims({ op: 'delete', object, subject: owner, ttl: 60, once: true, now: this.#now });
    await this.records.recordGrant(this.#grant(claims, '(quota)', signing.kid, {}, null));
    const minted = await this.#sign(signing, claims);
    const response = await fetch(minted.url, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    if (!response.ok && response.status !== 404) {
      throw new ValetError(
        'unavailable',
        `storage refused to remove an over-quota upload (${response.status})`,
      );
    }
  }

  async #openShare(secret: string): Promise<Outgoing> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(secret)) throw new ValetError('not_found', 'no such share link');
    const share = await this.records.findShareBySecret(await sha256Hex(secret));
    const now = this.#now();
    if (!share || share.revokedAt !== null || share.expiresAt <= now) {
      throw new ValetError('not_found', 'this share link does not exist, expired or was revoked');
    }
    const identity: Identity = { subject: shareSubject(share.id), claims: {} };
    const record = await this.records.getObject(share.object);
    if (record?.state !== 'complete') throw new ValetError('not_found', 'the shared object no longer exists');
    // A rule for get must still allow this read (its authorize hook sees the share).
    const { name: ruleName } = await this.#pickRule(
      ruleContext({ subject: share.owner, claims: {} }, undefined),
      'get',
      share.object,
      undefined,
      share,
    );
    const signing = this.#activeSigningKey();
    const ttl = Math.max(1, Math.min(SHARE_KEY_TTL, Math.floor((share.expiresAt - now) / 1000)));
    const claims = buildClaims({
      op: 'get',
      object: share.object,
      subject: identity.subject,
      ttl,
      now: this.#now,
    });
    const grant = this.#grant(claims, ruleName, signing.kid, {}, share.id);
    await this.records.recordGrant(grant);
    const minted = await this.#sign(signing, claims);
    return empty(302, {
      location: minted.url,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
  }

  // ---- rules --------------------------------------------------------------------------------

  async #pickPutRule(
    ctx: RuleContext,
    req: KeyRequest,
  ): Promise<{ name: string; rule: Rule; object: string }> {
    const candidates = this.#candidates('put', req.rule);
    for (const [name, rule] of candidates) {
      const prefix = rulePrefix(rule, ctx);
      const proposed = rule.naming === 'random' || req.name === undefined ? randomKeyId() : req.name;
      const object = uploadKey(prefix, proposed);
      const record = await this.records.getObject(object);
      if (record && record.owner !== ctx.identity.subject) continue; // never write over someone else's object
      if (rule.authorize && !(await rule.authorize({ ...ctx, op: 'put', object, record }))) continue;
      return { name, rule, object };
    }
    throw new ValetError('forbidden', 'no rule allows this upload');
  }

  async #pickRule(
    ctx: RuleContext,
    op: 'get' | 'delete' | 'share',
    key: string,
    ruleName?: string,
    share?: ShareRecord,
  ): Promise<{ name: string; rule: Rule; object: string }> {
    const record = await this.records.getObject(normalizeObjectKey(key));
    for (const [name, rule] of this.#candidates(op, ruleName)) {
      const object = keyInPrefix(rulePrefix(rule, ctx), key);
      if (object === undefined) continue;
      if (rule.authorize && !(await rule.authorize({ ...ctx, op, object, record, ...(share && { share }) })))
        continue;
      return { name, rule, object };
    }
    throw new ValetError('forbidden', `no rule allows this ${op === 'share' ? 'share' : op}`);
  }

  #candidates(op: Rule['op'], ruleName: string | undefined): Array<[string, Rule]> {
    const all = Object.entries(this.#options.rules).filter(([, rule]) => rule.op === op);
    if (ruleName === undefined) return all;
    const named = all.filter(([name]) => name === ruleName);
    if (named.length === 0) throw new ValetError('forbidden', `no ${op} rule named "${ruleName}"`);
    return named;
  }

  /**
   * Whether a declared SHA-256 goes into the key: always for Valet storage; for a driver only if
   * its store checks it (a digest nobody checks would only pretend), or if the rule requires one
   * and accepts that it is not checked.
   */
  #bindsDigest(rule: Rule): boolean {
    const { driver } = this.#options;
    return driver?.enforcement().sha256 !== 'none' || rule.requireSha256 === true;
  }

  async #quotaFor(subject: string): Promise<Quota> {
    const { quota } = this.#options;
    if (quota === undefined) return {};
    return typeof quota === 'function' ? await quota(subject) : quota;
  }

  // ---- helpers ------------------------------------------------------------------------------

  #activeSigningKey(): SigningKey {
    const key = this.#signingKeys.find((k) => !this.#revokedKids.has(k.kid));
    if (!key) throw new ValetError('unavailable', 'every signing key is revoked');
    return key;
  }

  #grant(
    claims: ReturnType<typeof buildClaims>,
    rule: string,
    kid: string,
    caller: CallerInfo,
    shareId: string | null,
  ): GrantRecord {
    const { op, obj, sub, jti, iat, nbf, exp, ...constraints } = claims;
    return {
      id: jti,
      subject: sub,
      op,
      object: obj,
      rule,
      constraints,
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      kid,
      clientAddress: caller.clientAddress ?? null,
      userAgent: caller.userAgent ?? null,
      shareId,
      reservedBytes: 0,
      completedAt: null,
    };
  }

  async #sign(
    signing: SigningKey,
    claims: ReturnType<typeof buildClaims>,
    contentType?: string,
  ): Promise<MintedKey> {
    const { op, obj, jti, exp, iat: _iat, nbf: _nbf, sub: _sub, ...constraints } = claims;
    const { driver } = this.#options;
    if (driver) {
      const signed = await driver.sign(claims, contentType);
      return {
        id: jti,
        op,
        object: obj,
        url: signed.url,
        method: signed.method,
        headers: signed.headers,
        ...(signed.fields && { fields: signed.fields }),
        ...((op === 'put' || op === 'delete') && { complete: `/v1/keys/${jti}/complete` }),
        expiresAt: new Date(exp * 1000).toISOString(),
        constraints,
      };
    }
    const token = await signClaims(signing, claims);
    const storageUrl = (this.#options.storageUrl as string).replace(/\/+$/, '');
    if (claims.resumable || claims.upload !== undefined) {
      // tus: the key travels in the Authorization header of every request of the upload.
      const upload = claims.upload ?? jti;
      return {
        id: jti,
        op,
        object: obj,
        url: claims.resumable ? `${storageUrl}/uploads` : `${storageUrl}/uploads/${upload}`,
        method: claims.resumable ? 'POST' : 'PATCH',
        headers: { authorization: `Bearer ${token}` },
        expiresAt: new Date(exp * 1000).toISOString(),
        constraints,
        upload: { id: upload, protocol: 'tus', renewals: 0 },
      };
    }
    return {
      id: jti,
      op,
      object: obj,
      url: keyUrl(this.#options.storageUrl as string, obj, token),
      method: OP_METHOD[op as keyof typeof OP_METHOD],
      headers: contentType !== undefined ? { 'content-type': contentType } : {},
      expiresAt: new Date(exp * 1000).toISOString(),
      constraints,
    };
  }

  /**
   * A fresh key for the caller's resumable upload: only its owner may renew it, only while it is
   * unfinished, unrevoked and younger than the upload lifetime, and only with the limits it was
   * created with. Each renewal is a grant of its own, counted against the upload.
   */
  async #renewUpload(
    identity: Identity,
    req: KeyRequest,
    signing: SigningKey,
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
    const { created, rule } = await this.#ownUpload(identity, id);
    if (created.constraints.multipart !== undefined) {
      throw new ValetError('bad_request', `this upload's parts are signed at /v1/uploads/${id}/parts`);
    }
    const c = created.constraints as Partial<ValetClaims>;
    const claims = buildClaims({
      op: 'put',
      object: created.object,
      subject: created.subject,
      ttl: this.#ttlOf(rule),
      ...(c.max_size !== undefined && { maxSize: c.max_size }),
      ...(c.min_size !== undefined && { minSize: c.min_size }),
      ...(c.size !== undefined && { size: c.size }),
      ...(c.content_types !== undefined && { contentTypes: c.content_types }),
      ...(c.sha256 !== undefined && { sha256: c.sha256 }),
      ...(c.no_overwrite && { noOverwrite: true }),
      upload: id,
      now: this.#now,
    });
    const renewals = await this.#recordRenewal(created, claims, signing.kid, caller);
    this.#log?.info({ upload: id, sub: identity.subject, renewals }, 'resumable upload key renewed');
    const minted = await this.#sign(signing, claims);
    return { ...minted, upload: { id, protocol: 'tus', renewals } };
  }

  /** Records a key renewing the upload `created` made (it carries the upload's reservation); returns the count. */
  #recordRenewal(
    created: GrantRecord,
    claims: ReturnType<typeof buildClaims>,
    kid: string,
    caller: CallerInfo,
  ): Promise<number> {
    const grant = this.#grant(claims, created.rule, kid, caller, null);
    grant.reservedBytes = created.reservedBytes;
    return this.records.renewUpload(grant, created.id, this.#now());
  }

  /** The lifetime of a key minted under `rule`, seconds. */
  #ttlOf(rule: Rule): number {
    return Math.min(rule.ttl ?? DEFAULT_KEY_TTL, this.#maxTtl);
  }

  /**
   * The caller's resumable upload `id`, if it may still be continued: it exists, belongs to the
   * caller, is unfinished, younger than the upload lifetime, unrevoked, and its rule still exists.
   */
  async #ownUpload(identity: Identity, id: string): Promise<{ created: GrantRecord; rule: Rule }> {
    const created = await this.records.getGrant(id);
    if (created?.op !== 'put' || created.constraints.resumable !== true) {
      throw new ValetError('not_found', 'no such resumable upload');
    }
    if (created.subject !== identity.subject) {
      throw new ValetError('forbidden', 'this upload belongs to someone else');
    }
    if (created.completedAt !== null) throw new ValetError('upload_gone', 'this upload is already finished');
    if (this.#now() > created.issuedAt + this.#uploadLifetime * 1000) {
      throw new ValetError('upload_gone', 'this upload has expired');
    }
    const rule = this.#options.rules[created.rule];
    if (rule?.op !== 'put') throw new ValetError('forbidden', 'the rule that allowed this upload is gone');
    const { list } = await this.#revocationFeed();
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

  /** A multipart upload of the caller's: its grant, its store state, and the store. */
  async #ownMultipart(identity: Identity, id: string) {
    const { created, rule } = await this.#ownUpload(identity, id);
    const multipart = created.constraints.multipart as Multipart | undefined;
    const driver = this.#options.driver;
    if (!multipart || !driver?.presignPart || !driver.listParts || !driver.completeMultipart) {
      throw new ValetError('not_found', 'no such multipart upload');
    }
    const size = created.constraints.size as number;
    return { created, rule, multipart, driver, size, count: partCount(size, multipart.part_size) };
  }

  /**
   * `/v1/uploads/:id…` (a driver's multipart upload): `GET` lists the parts the store holds,
   * `DELETE` cancels it, `POST …/parts {part}` signs one part's request (its exact length, the
   * rule's TTL), and `POST …/complete` checks the parts against the declared size and completes it.
   */
  async #multipartRoute(incoming: Incoming, identity: Identity, caller: CallerInfo): Promise<Outgoing> {
    const match = UPLOAD_ROUTE.exec(incoming.url.pathname);
    if (!match) throw new ValetError('not_found', 'no such route');
    const id = match[1] as string;
    const action = match[2];
    if (action === undefined && incoming.method === 'DELETE') {
      // Cancelled: the store drops the parts, and the upload takes no more parts or renewals.
      const { created, multipart, driver } = await this.#ownMultipart(identity, id);
      await driver.abortMultipart?.(created.object, multipart.upload_id);
      await this.revokeKey(id);
      this.#log?.info({ upload: id, sub: identity.subject }, 'multipart upload cancelled');
      return empty(204);
    }
    if (action === undefined) {
      requireMethod(incoming.method, 'GET', 'DELETE');
      const { created, multipart, driver, size } = await this.#ownMultipart(identity, id);
      const parts = await driver.listParts?.(created.object, multipart.upload_id);
      return json(200, {
        id,
        object: created.object,
        size,
        part_size: multipart.part_size,
        parts: (parts ?? []).map((p) => ({ part: p.partNumber, size: p.size })),
      });
    }
    requireMethod(incoming.method, 'POST');
    const { created, rule, multipart, driver, size, count } = await this.#ownMultipart(identity, id);
    if (action === '/complete') {
      const parts = (await driver.listParts?.(created.object, multipart.upload_id)) ?? [];
      for (let n = 1; n <= count; n++) {
        const held = parts.find((p) => p.partNumber === n);
        if (held?.size !== partBytes(n, size, multipart.part_size, count)) {
          throw new ValetError(
            'precondition_failed',
            `part ${n} of ${count} is missing or has the wrong size`,
          );
        }
      }
      await driver.completeMultipart?.({
        object: created.object,
        uploadId: multipart.upload_id,
        expectedSize: size,
      });
      return this.#verifyCompletion(identity, id);
    }
    const body = (await readJson(incoming)) as { part?: unknown };
    const part = body?.part;
    if (typeof part !== 'number' || !Number.isInteger(part) || part < 1 || part > count) {
      throw new ValetError('bad_request', `part must be a whole number from 1 to ${count}`);
    }
    const bytes = partBytes(part, size, multipart.part_size, count);
    const ttl = this.#ttlOf(rule);
    const signed = await driver.presignPart?.({
      object: created.object,
      uploadId: multipart.upload_id,
      partNumber: part,
      size: bytes,
      ttl,
    });
    if (!signed) throw new ValetError('not_found', 'no such multipart upload');
    // Each part's request is a grant of its own, carrying the upload's reservation.
    const claims = buildClaims({
      op: 'put',
      object: created.object,
      subject: created.subject,
      ttl,
      size: bytes,
      upload: id,
      now: this.#now,
    });
    const renewals = await this.#recordRenewal(created, claims, this.#activeSigningKey().kid, caller);
    return json(201, {
      part,
      size: bytes,
      url: signed.url,
      method: signed.method,
      headers: signed.headers,
      expires_at: new Date(claims.exp * 1000).toISOString(),
      renewals,
    });
  }

  #clientAddress(incoming: Incoming): string | null {
    if (this.#options.trustProxy) {
      const forwarded = incoming.header('x-forwarded-for')?.split(',')[0]?.trim();
      if (forwarded) return forwarded.slice(0, 64);
    }
    return incoming.clientAddress ?? null;
  }

  #errorResponse(error: unknown, html = false): Outgoing {
    const rendered = renderError(asValetError(error, 'the issuer failed to handle the request'), { html });
    const { error: failure } = rendered;
    if (failure.status >= 500)
      this.#log?.error({ err: failure.cause ?? failure, code: failure.code }, 'request failed');
    return { status: rendered.status, headers: rendered.headers, body: rendered.body };
  }

  #preflight(incoming: Incoming): Outgoing {
    const headers = this.#cors.preflight({
      origin: incoming.header('origin') ?? undefined,
      requestMethod: incoming.header('access-control-request-method') ?? undefined,
    });
    if (headers === undefined) return empty(204, { allow: 'GET, HEAD, POST, DELETE, OPTIONS' });
    return empty(204, headers);
  }

  #withCors(incoming: Incoming, out: Outgoing): void {
    if (incoming.method === 'OPTIONS') return;
    const cors = this.#cors.responseHeaders(incoming.header('origin') ?? undefined);
    for (const [name, value] of Object.entries(cors)) {
      out.headers[name] = name === 'vary' && out.headers.vary ? `${out.headers.vary}, ${value}` : value;
    }
  }
}

function toIdentity(who: Identity | string): Identity {
  return typeof who === 'string' ? { subject: who, claims: {} } : who;
}

/** The subject of keys minted through a share link: revoking it ends them all. */
function shareSubject(id: string): string {
  return `share:${id}`;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A driver's multipart upload, as recorded with its creating grant. */
interface Multipart {
  upload_id: string;
  part_size: number;
}

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

function toWire(key: MintedKey): KeyBody {
  const { upload } = key;
  return {
    id: key.id,
    op: key.op,
    object: key.object,
    url: key.url,
    method: key.method,
    headers: key.headers,
    ...(key.fields && { fields: key.fields }),
    ...(key.complete && { complete: key.complete }),
    expires_at: key.expiresAt,
    constraints: key.constraints,
    ...(upload && {
      upload: {
        id: upload.id,
        protocol: upload.protocol,
        renewals: upload.renewals,
        ...(upload.partSize !== undefined && { part_size: upload.partSize }),
        ...(upload.parts !== undefined && { parts: upload.parts }),
      },
    }),
  };
}

/** Share-link secrets are bearer credentials: never in a log line. */
function loggedPath(path: string): string {
  return path.startsWith('/s/') ? '/s/…' : path.slice(0, 512);
}

function requireMethod(method: string, ...allowed: string[]): void {
  if (!allowed.includes(method))
    throw new ValetError('method_not_allowed', `use ${allowed.join(' or ')} on this path`);
}

async function readJson(incoming: Incoming): Promise<unknown> {
  const type = incoming.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ValetError('unsupported_media_type', 'send the request body as application/json');
  }
  const parsed = safeJson(await incoming.text(MAX_BODY));
  if (parsed === undefined) throw new ValetError('bad_request', 'the body is not valid JSON');
  return parsed;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The context rules see; `request` is built only if a rule reads it. */
function ruleContext(identity: Identity, incoming: Incoming | undefined): RuleContext {
  return {
    identity,
    get request() {
      return incoming?.request();
    },
  };
}

/** Refuses, at configuration time, a rule whose constraints the driver cannot enforce. */
function checkEnforcement(driver: StorageDriver, rules: Readonly<Record<string, Rule>>): void {
  const table = driver.enforcement();
  for (const [name, rule] of Object.entries(rules)) {
    for (const constraint of ruleConstraints(rule)) {
      if (table[constraint] === 'none' && !rule.accept?.includes(constraint)) {
        throw new ValetError(
          'invalid_options',
          `rule "${name}" sets ${constraint}, which the ${driver.name} driver cannot enforce; ` +
            `drop it from the rule or list it in the rule's accept`,
        );
      }
    }
  }
}

/** Why an object's head breaks its key's constraints, if it does. */
function constraintBroken(constraints: Record<string, unknown>, head: HeadResult): string | undefined {
  const c = constraints as {
    size?: number;
    max_size?: number;
    min_size?: number;
    content_types?: string[];
    sha256?: string;
  };
  if (c.size !== undefined && head.size !== c.size) return `its size is ${head.size}, not ${c.size}`;
  if (c.max_size !== undefined && head.size > c.max_size) return `it is larger than ${c.max_size} bytes`;
  if (c.min_size !== undefined && head.size < c.min_size) return `it is smaller than ${c.min_size} bytes`;
  if (c.content_types && !contentTypeAllowed(head.contentType, c.content_types)) {
    return `its type ${head.contentType} is not allowed`;
  }
  if (c.sha256 !== undefined && head.sha256 !== undefined && head.sha256 !== c.sha256) {
    return 'its SHA-256 differs from the one bound in the key';
  }
  return undefined;
}
