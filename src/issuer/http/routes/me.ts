import { toWire } from '../../../wire/case.js';
import type { Me } from '../../../wire/me.js';
import { ruleContext } from '../../policy.js';
import { rulePrefix } from '../../rules.js';
import type { IssuerRoute } from '../handler.js';
import { json } from '../messages.js';

/**
 * `GET /v1/me`: who the caller is and what they may do, for a user interface to show before a
 * file is picked: each rule's operation, namespace and limits, and the caller's quota and usage.
 * Rules with an `authorize` hook are listed too (the hook still decides each request).
 */
export const meRoutes: IssuerRoute[] = [
  {
    method: 'GET',
    path: '/v1/me',
    access: 'caller',
    handler: async ({ core, identity, incoming }) => {
      const ctx = ruleContext(identity, incoming);
      const [quota, usage] = await Promise.all([
        core.quotaFor(identity.subject),
        core.records.usage(identity.subject, core.now()),
      ]);
      const me: Me = {
        subject: identity.subject,
        rules: Object.entries(core.options.rules).map(([name, rule]) => ({
          name,
          op: rule.op,
          prefix: rulePrefix(rule, ctx),
          ...(rule.maxSize !== undefined && { maxSize: rule.maxSize }),
          ...(rule.minSize !== undefined && { minSize: rule.minSize }),
          ...(rule.contentTypes && { contentTypes: [...rule.contentTypes] }),
          ...(rule.op !== 'share' && { ttl: core.ttlOf(rule) }),
        })),
        quota: {
          maxBytes: quota.maxBytes ?? null,
          maxObjects: quota.maxObjects ?? null,
          usedBytes: usage.bytes,
          usedObjects: usage.objects,
        },
      };
      return json(200, toWire(me));
    },
  },
];
