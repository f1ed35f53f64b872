import { z } from 'zod';
import { CONSTRAINTS, type Constraint } from '../drivers/types.js';
import { isMediaRange } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { normalizeObjectKey } from '../token/object-key.js';
import type { SameKeys } from '../token/same-keys.js';
import { unstorableReason } from '../token/text.js';
import type { Identity } from './auth/identity.js';
import type { ObjectRecord, ShareRecord } from './records/records.js';
import type { ValidatorSpec } from './validation/validators.js';

/** What a rule may allow: one storage operation, or creating a share link. */
export type RuleOperation = 'put' | 'get' | 'delete' | 'share';

/** What a rule's `prefix` function and `authorize` hook see. */
export interface RuleContext {
  identity: Identity;
  /** The HTTP request, or `undefined` when minting in-process. */
  request: Request | undefined;
}

/** What an `authorize` hook decides on. */
export interface AuthorizeContext extends RuleContext {
  op: RuleOperation;
  /** The object key the key would be for (normalised, inside the rule's prefix). */
  object: string;
  /** The object's registry row, if the issuer knows the object. */
  record: ObjectRecord | undefined;
  /** get: the share link being redeemed, when the request comes through one. */
  share?: ShareRecord;
}

/**
 * One named rule: who may do what, where, and with which limits. A request is allowed only if a
 * rule for its operation confines the object key to the rule's prefix and its `authorize` hook
 * (if any) says yes. Nothing is minted "just in case".
 *
 * @example
 * ```ts
 * const rules = {
 *   upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 5 * 2 ** 30, ttl: 300 },
 *   read: { op: 'get', prefix: 'users/{subject}/' },
 *   avatars: { op: 'get', prefix: 'avatars/', authorize: ({ identity }) => identity.claims.email_verified === true },
 * } satisfies Record<string, Rule>
 * ```
 */
export interface Rule {
  op: RuleOperation;
  /**
   * The namespace the rule covers. A string may use `{subject}` (the caller's subject, with `/`,
   * `%` and other unsafe characters percent-encoded so it is always one segment). Default `''`
   * (the whole store). For put the object key is this prefix plus the client's name; for the
   * other operations the requested key must start with it.
   */
  prefix?: string | ((ctx: RuleContext) => string);
  /** put: how the name is chosen: the client's proposal (`client`, default) or always random. */
  naming?: 'client' | 'random';
  /** put: largest object, bytes. */
  maxSize?: number;
  /** put: smallest object, bytes. */
  minSize?: number;
  /** put: allowed content types (`image/png`, `image/*`). Default any. */
  contentTypes?: readonly string[];
  /** put: require the client to declare the body's SHA-256 (bound into the key). Default false. */
  requireSha256?: boolean;
  /** put: create-only: never overwrite an existing object. Default false. */
  createOnly?: boolean;
  /**
   * put: what an upload must pass before anyone may read it, in order: `'type'` (its bytes are
   * the type it declared), `'clamav'` (clamd finds nothing: set the issuer's `validation.clamd`),
   * the app's own check (`async (object, open) => ({ ok: true } | { reject: reason })`). Until
   * then the object is pending: no read key, no share link, listed to its uploader only; one that
   * fails is removed, with its reason. See docs/validation.md. Default: none.
   */
  validate?: readonly ValidatorSpec[];
  /**
   * Key lifetime, seconds. Default 300, capped by the issuer's `maxTtl`. For `share` rules: the
   * longest share link lifetime (default 7 days).
   */
  ttl?: number;
  /** Keys are single use. Default true for put and delete, false for get. */
  once?: boolean;
  /**
   * How old Valet storage's revocation list may be when one of this rule's keys is used, seconds
   * (the key carries it, signed). A revocation takes effect within it, and storage keeps serving
   * the rule's keys through an outage of the issuer that long, for the whole life of a key that
   * lives no longer. `'strict'`: storage's own bound (`--revocation-max-staleness`, 5 s), and
   * every key is refused (503) once the list is older. Default 600 (10 minutes).
   */
  revocation?: 'strict' | number;
  /** Extra check (for example ownership, or a group claim). Default: allowed. */
  authorize?: (ctx: AuthorizeContext) => boolean | Promise<boolean>;
  /**
   * Constraints this rule accepts that the storage driver cannot enforce (for example `once` and
   * `revocation` on S3, where a presigned URL works until it expires). Without this, an issuer
   * whose driver cannot enforce a constraint the rule sets refuses to start.
   */
  accept?: readonly Constraint[];
}

/** Default key lifetime, seconds. */
export const DEFAULT_KEY_TTL = 300;
/** Default longest share link lifetime, seconds. */
export const DEFAULT_SHARE_TTL = 7 * 24 * 3600;
/**
 * Default revocation bound of a rule's keys, seconds: keys of the default lifetime (300 s) need no
 * fresh revocation list at all, and any key survives an issuer outage of 10 minutes.
 */
export const DEFAULT_REVOCATION_STALENESS = 600;

const size = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * The fields of a rule and how each is checked: the issuer's {@link ruleSchema}, and the
 * `valet issuer --config` file's rules (which take sizes and durations as text too).
 */
export const ruleFields = z.object({
  op: z.enum(['put', 'get', 'delete', 'share']),
  prefix: z.union([z.string(), z.function()]).optional(),
  naming: z.enum(['client', 'random']).optional(),
  maxSize: size.optional(),
  minSize: size.optional(),
  contentTypes: z
    .array(z.string().refine((t) => isMediaRange(t.toLowerCase()), 'not a media type or type/*'))
    .min(1)
    .optional(),
  requireSha256: z.boolean().optional(),
  createOnly: z.boolean().optional(),
  validate: z
    .array(z.union([z.enum(['type', 'clamav']), z.function()]))
    .min(1)
    .optional(),
  ttl: z.number().int().min(1).optional(),
  once: z.boolean().optional(),
  revocation: z
    .union([
      z.literal('strict'),
      z
        .number()
        .int()
        .min(1)
        .max(7 * 24 * 3600),
    ])
    .optional(),
  authorize: z.function().optional(),
  accept: z.array(z.enum(CONSTRAINTS)).optional(),
});

// The Rule interface (its docs are the API's) and the schema name the same fields.
const ruleKeysMatch: SameKeys<Rule, z.input<typeof ruleFields>> = true;
void ruleKeysMatch;

/** How a rule's fields fit together. */
function checkRule(rule: z.output<typeof ruleFields>, ctx: z.RefinementCtx): void {
  if (rule.op !== 'put') {
    for (const name of [
      'naming',
      'maxSize',
      'minSize',
      'contentTypes',
      'requireSha256',
      'createOnly',
      'validate',
    ] as const) {
      if (rule[name] !== undefined)
        ctx.addIssue({ code: 'custom', message: `${name} applies to put rules only` });
    }
  }
  if (rule.minSize !== undefined && rule.maxSize !== undefined && rule.minSize > rule.maxSize) {
    ctx.addIssue({ code: 'custom', message: 'minSize is larger than maxSize' });
  }
  if (typeof rule.prefix === 'string' && rule.prefix !== '' && !rule.prefix.endsWith('/')) {
    ctx.addIssue({ code: 'custom', message: 'a prefix must be empty or end with "/"' });
  }
}

/** The shape of a rule, checked when the issuer is created. */
export const ruleSchema = ruleFields.strict().superRefine(checkRule);

/**
 * A subject as one safe key segment: percent-encoded like a URI component, and never `.` or `..`.
 *
 * @example
 * ```ts
 * subjectSegment('alice') // 'alice'
 * subjectSegment('../bob') // '..%2Fbob'
 * ```
 */
export function subjectSegment(subject: string): string {
  const reason = unstorableReason(subject);
  if (reason !== undefined) throw new ValetError('bad_request', `the subject holds ${reason}`);
  const encoded = encodeURIComponent(subject);
  return encoded === '.' ? '%2E' : encoded === '..' ? '%2E%2E' : encoded;
}

/** The rule's prefix for this caller, checked against the naming rules. */
export function rulePrefix(rule: Rule, ctx: RuleContext): string {
  const raw =
    typeof rule.prefix === 'function'
      ? rule.prefix(ctx)
      : (rule.prefix ?? '').replaceAll('{subject}', subjectSegment(ctx.identity.subject));
  if (raw === '') return '';
  if (!raw.endsWith('/')) throw new ValetError('internal_error', 'a rule prefix must end with "/"');
  return `${normalizeObjectKey(raw.slice(0, -1))}/`;
}

/**
 * The object key for an upload: the rule's prefix plus the client's proposed name, normalised
 * with the storage naming rules. A name that is absolute or tries to climb out (`..`, `.`, empty
 * segments, backslashes) is refused with `invalid_object_key`, never silently rewritten.
 */
export function uploadKey(prefix: string, name: string): string {
  if (name.startsWith('/')) throw new ValetError('invalid_object_key', 'a name may not start with "/"');
  const relative = normalizeObjectKey(name);
  return normalizeObjectKey(`${prefix}${relative}`);
}

/** A requested key, normalised, if it lies inside `prefix`; otherwise `undefined`. */
export function keyInPrefix(prefix: string, key: string): string | undefined {
  const normalized = normalizeObjectKey(key);
  return normalized.startsWith(prefix) && normalized.length > prefix.length ? normalized : undefined;
}

/**
 * The constraints a rule sets, as a driver must enforce them: explicit limits, single use by
 * default for writes and deletes, and expiry and revocation for every key.
 */
export function ruleConstraints(rule: Rule): Constraint[] {
  const out: Constraint[] = ['expiry', 'revocation'];
  if (rule.op === 'put') {
    if (rule.maxSize !== undefined) out.push('max_size', 'size');
    if (rule.minSize !== undefined) out.push('min_size');
    if (rule.contentTypes !== undefined) out.push('content_types');
    if (rule.requireSha256) out.push('sha256');
    if (rule.createOnly) out.push('no_overwrite');
  }
  if (rule.op !== 'share' && (rule.once ?? rule.op !== 'get')) out.push('once');
  return out;
}
