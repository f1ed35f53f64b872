import { ValetError } from '../token/errors.js';
import { randomKeyId } from '../token/mint.js';
import { normalizeObjectKey } from '../token/object-key.js';
import type { KeyRequest } from './api.js';
import type { Identity } from './auth/identity.js';
import type { IssuerCore } from './core.js';
import type { ShareRecord } from './records/records.js';
import { keyInPrefix, type Rule, type RuleContext, rulePrefix, uploadKey } from './rules.js';

/** A rule that allows a request, and the object it allows it for. */
export interface Allowed {
  name: string;
  rule: Rule;
  object: string;
}

/**
 * Where the HTTP request a rule may read comes from: the issuer's HTTP layer builds the web
 * `Request` only on first use (an exchange on the Node adapter has none until then).
 */
export interface RequestSource {
  request(): Request;
}

/** The context rules see; `request` is built only if a rule reads it. */
export function ruleContext(identity: Identity, source: RequestSource | undefined): RuleContext {
  return {
    identity,
    get request() {
      return source?.request();
    },
  };
}

/**
 * The first put rule (or the one named) that allows this upload: the object is the rule's prefix
 * plus the proposed name (or a random one), never someone else's object, and the rule's
 * `authorize` hook agrees.
 */
export async function pickPutRule(core: IssuerCore, ctx: RuleContext, req: KeyRequest): Promise<Allowed> {
  for (const [name, rule] of candidates(core, 'put', req.rule)) {
    const prefix = rulePrefix(rule, ctx);
    const proposed = rule.naming === 'random' || req.name === undefined ? randomKeyId() : req.name;
    const object = uploadKey(prefix, proposed);
    const record = await core.records.getObject(object);
    if (record && record.owner !== ctx.identity.subject) continue; // never write over someone else's object
    if (rule.authorize && !(await rule.authorize({ ...ctx, op: 'put', object, record }))) continue;
    return { name, rule, object };
  }
  const where = req.name === undefined ? '' : ` as "${req.name}"`;
  throw new ValetError('forbidden', `you may not upload${where} (no upload rule allows it)`);
}

/** The first rule for `op` (or the one named) whose prefix holds `key` and whose hook agrees. */
export async function pickRule(
  core: IssuerCore,
  ctx: RuleContext,
  op: 'get' | 'delete' | 'share',
  key: string,
  ruleName?: string,
  share?: ShareRecord,
): Promise<Allowed> {
  const record = await core.records.getObject(normalizeObjectKey(key));
  for (const [name, rule] of candidates(core, op, ruleName)) {
    const object = keyInPrefix(rulePrefix(rule, ctx), key);
    if (object === undefined) continue;
    if (rule.authorize && !(await rule.authorize({ ...ctx, op, object, record, ...(share && { share }) })))
      continue;
    return { name, rule, object };
  }
  const verb = { get: 'read', delete: 'delete', share: 'share' }[op];
  throw new ValetError('forbidden', `you may not ${verb} "${key}" (no ${verb} rule allows it)`);
}

function candidates(core: IssuerCore, op: Rule['op'], ruleName: string | undefined): Array<[string, Rule]> {
  const all = Object.entries(core.options.rules).filter(([, rule]) => rule.op === op);
  if (ruleName === undefined) return all;
  const named = all.filter(([name]) => name === ruleName);
  if (named.length === 0) throw new ValetError('forbidden', `there is no ${op} rule named "${ruleName}"`);
  return named;
}

/**
 * Whether a declared SHA-256 goes into the key: when the store checks it, or the issuer does at
 * completion; if nobody can, only when the rule requires one and accepts that it is not checked
 * (a digest nobody checks would only pretend).
 */
export function bindsDigest(core: IssuerCore, rule: Rule): boolean {
  return core.driver.enforcement().sha256 !== 'none' || rule.requireSha256 === true;
}
