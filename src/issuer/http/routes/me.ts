import type { MeBody } from '../../../wire/issuer-api.js';
import { ruleContext } from '../../policy.js';
import { rulePrefix } from '../../rules.js';
import { json } from '../exchange.js';
import type { IssuerRoute } from '../handler.js';

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
      const body: MeBody = {
        subject: identity.subject,
        rules: Object.entries(core.options.rules).map(([name, rule]) => ({
          name,
          op: rule.op,
          prefix: rulePrefix(rule, ctx),
          ...(rule.maxSize !== undefined && { max_size: rule.maxSize }),
          ...(rule.minSize !== undefined && { min_size: rule.minSize }),
          ...(rule.contentTypes && { content_types: [...rule.contentTypes] }),
          ...(rule.op !== 'share' && { ttl: core.ttlOf(rule) }),
        })),
        quota: {
          max_bytes: quota.maxBytes ?? null,
          max_objects: quota.maxObjects ?? null,
          used_bytes: usage.bytes,
          used_objects: usage.objects,
        },
      };
      return json(200, body);
    },
  },
];
