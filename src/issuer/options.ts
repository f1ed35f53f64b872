import type { Logger } from 'pino';
import { z } from 'zod';
import type { Constraint, StorageDriver } from '../drivers/types.js';
import { ValetError } from '../token/errors.js';
import type { PrivateSigningJwk } from '../token/keys.js';
import type { SameKeys } from '../token/same-keys.js';
import { uploadLifetimeSchema } from '../wire/storage-api.js';
import type { CompletedUpload } from './api.js';
import type { Identity } from './auth/identity.js';
import { type OidcOptions, oidcOptionsSchema } from './auth/oidc.js';
import type { Quota, RecordStore } from './records/records.js';
import { type Rule, ruleConstraints, ruleSchema } from './rules.js';
import { type ValidationOptions, validationOptionsSchema } from './validation/options.js';

/** Options for {@link createIssuer} that every issuer has (see {@link IssuerOptions}). */
export interface IssuerBaseOptions {
  /** Private signing keys (Ed25519 JWKs). The first one not revoked signs; all are published. */
  signingKeys: readonly PrivateSigningJwk[];
  /** Named rules: what callers may do. A request no rule allows is refused with `forbidden`. */
  rules: Readonly<Record<string, Rule>>;
  /** The secret shared with storage (completion webhooks, revocation feed), at least 32 bytes. */
  storageSecret: string;
  /** Per-subject quota: fixed, or chosen per subject. Default: unlimited. */
  quota?: Quota | ((subject: string) => Quota | Promise<Quota>);
  /** Where records are kept (a `RecordStore`). One of `records` and `database` is required. */
  records?: RecordStore;
  /**
   * Where the records are: a SQLite file (one machine), e.g. `issuer.sqlite`, or a
   * `postgres://user@host/db` URL (several issuers sharing one truth; needs the `pg` package, and
   * Valet's tables go in the schema `valet`). `':memory:'` keeps the records in memory only:
   * grants, quotas, share links and the object registry are lost at exit, so it must be asked
   * for; there is no default.
   */
  database?: string;
  /**
   * Called once per committed upload, after it is recorded (at least once: use `eventId`); for an
   * upload its rule validates, once the validators have decided, with the verdict (`status`).
   */
  onUploadComplete?: (upload: CompletedUpload) => void | Promise<void>;
  /** How uploads whose rule says `validate` are checked (see docs/validation.md). */
  validation?: ValidationOptions;
  /** Longest key lifetime a rule may ask for, seconds. Default 3600 (storage's default maximum). */
  maxTtl?: number;
  /** Subjects allowed to revoke over HTTP (`POST /v1/revocations`). Default none. */
  admins?: readonly string[];
  /**
   * Where the app mounts the issuer, e.g. `/api/valet` (a Next.js catch-all, Hono's `mount`,
   * Express's `app.use`). Every route, share link, the JWK set and the revocation feed live under
   * it; requests are accepted with the prefix or with it already stripped by the framework, and
   * storage's signatures cover the full path (`{basePath}/v1/…`) either way. Default `''` (the root).
   */
  basePath?: string;
  /**
   * The issuer's public origin, for share links (`{publicUrl}{basePath}/s/…`). Default: the origin
   * of each request.
   */
  publicUrl?: string;
  /** Origins allowed to call the issuer from a browser. Default none (same origin only). */
  corsOrigins?: readonly string[];
  /** Use the first `X-Forwarded-For` address as the caller's address (behind a trusted proxy). */
  trustProxy?: boolean;
  /**
   * Serve Prometheus metrics at `GET /metrics` (no authentication: mount the issuer so that only
   * your monitoring reaches it, or read `issuer.metrics()` yourself). Default false.
   */
  metrics?: boolean;
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

/**
 * Options for {@link createIssuer}: the common ones, exactly one store (`storageUrl` or
 * `driver`) and exactly one way to authenticate (`authenticate` or `oidc`), which the type holds
 * to as the options check does at run time.
 */
export type IssuerOptions = IssuerBaseOptions &
  (
    | {
        /**
         * Valet storage's base URL clients use, e.g. `http://127.0.0.1:9000`: a shorthand for
         * `driver: new ValetStorageDriver({ url })`. Exactly one of `storageUrl` and `driver`.
         */
        storageUrl: string;
        driver?: never;
      }
    | {
        /**
         * The store keys are signed for (`valet/drivers`): Valet storage, `S3Driver` from
         * `valet/drivers/s3`, or your own. Its enforcement table is checked against the rules here.
         */
        driver: StorageDriver;
        storageUrl?: never;
      }
  ) &
  (
    | {
        /**
         * The app's own authentication: returns the caller's subject (or an {@link Identity}), or
         * `null` for an anonymous request. Exactly one of `authenticate` and `oidc` is required.
         */
        authenticate: (request: Request) => string | Identity | null | Promise<string | Identity | null>;
        oidc?: never;
      }
    | {
        /** The built-in OIDC/JWT bearer check. */
        oidc: OidcOptions;
        authenticate?: never;
      }
  );

/**
 * Every option in one object type, each alternative optional: what the run-time check takes
 * (tests build options from defaults and overrides with it).
 */
export type AnyIssuerOptions = IssuerBaseOptions & {
  storageUrl?: string;
  driver?: StorageDriver;
  authenticate?: (request: Request) => string | Identity | null | Promise<string | Identity | null>;
  oidc?: OidcOptions;
};

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
    validation: validationOptionsSchema.optional(),
    maxTtl: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .optional(),
    admins: z.array(z.string().min(1)).optional(),
    basePath: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'basePath is "" or /segment[/segment…], with no trailing slash')
      .refine(
        (p) => !/^\/(v1|s|\.well-known|healthz|readyz|metrics)(\/|$)/.test(p),
        "basePath may not start with a segment of the issuer's own routes (v1, s, .well-known, healthz, readyz, metrics)",
      )
      .optional(),
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    corsOrigins: z.array(z.string()).optional(),
    trustProxy: z.boolean().optional(),
    metrics: z.boolean().optional(),
    uploadLifetime: uploadLifetimeSchema.optional(),
    now: z.function().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .strict()
  .refine((o) => (o.authenticate === undefined) !== (o.oidc === undefined), {
    message: 'exactly one of authenticate and oidc is required',
  })
  .refine((o) => (o.storageUrl === undefined) !== (o.driver === undefined), {
    message: 'exactly one of storageUrl (Valet storage) and driver is required',
  })
  .refine((o) => o.records !== undefined || o.database !== undefined, {
    message:
      "the issuer needs a place for its records: database: 'issuer.sqlite' (a file), records (a RecordStore), " +
      "or database: ':memory:' to keep them in memory and lose them at exit",
  });

// The options' types and the schema that checks them name the same fields.
const optionKeysMatch: SameKeys<AnyIssuerOptions, z.input<typeof issuerOptionsSchema>> = true;
void optionKeysMatch;

/** Validates the options at construction: `invalid_options` with every problem named. */
export function validateIssuerOptions(options: AnyIssuerOptions): void {
  const parsed = issuerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValetError('invalid_options', `invalid issuer options: ${z.prettifyError(parsed.error)}`);
  }
}

/**
 * Refuses, at configuration time, rules whose constraints the store cannot enforce: every such
 * rule in one error, with the exact `accept` each needs (what it accepts already kept).
 */
export function checkEnforcement(driver: StorageDriver, rules: Readonly<Record<string, Rule>>): void {
  const table = driver.enforcement();
  const problems: Array<{ name: string; missing: Constraint[]; accept: Constraint[] }> = [];
  for (const [name, rule] of Object.entries(rules)) {
    const missing = ruleConstraints(rule).filter((c) => table[c] === 'none' && !rule.accept?.includes(c));
    if (missing.length > 0) problems.push({ name, missing, accept: [...(rule.accept ?? []), ...missing] });
  }
  if (problems.length === 0) return;
  const missing = new Set(problems.flatMap((p) => p.missing));
  const why = [
    ...(missing.has('revocation')
      ? [
          `revocation is on every key and the ${driver.name} driver's URLs cannot be revoked, so a rule accepts that`,
        ]
      : []),
    ...(missing.has('once') ? ['once can be accepted, or turned off with once: false'] : []),
    ...([...missing].some((c) => c !== 'revocation' && c !== 'once')
      ? ['a limit can be accepted (checked only after the upload) or removed']
      : []),
  ];
  throw new ValetError(
    'invalid_options',
    `the ${driver.name} driver cannot enforce what ${problems.length === 1 ? 'this rule sets' : 'these rules set'}: ` +
      problems.map((p) => `rule "${p.name}" sets ${p.missing.join(', ')}`).join('; ') +
      '. Add to each: ' +
      problems.map((p) => `${p.name}: { accept: [${p.accept.map((c) => `'${c}'`).join(', ')}] }`).join(', ') +
      ` (${why.join('; ')})`,
  );
}
