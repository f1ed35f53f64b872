import { ValetError } from '../../token/errors.js';
import { formatBytes } from '../../token/units.js';
import type { Quota, Usage } from '../records/records.js';

/**
 * What goes past the quota, in numbers: the room an upload needs against what is used and what
 * the quota allows, for bytes and for objects, whichever it exceeds.
 *
 * @example
 * ```ts
 * quotaWords({ maxBytes: 100 * 2 ** 20 }, { bytes: 98 * 2 ** 20, objects: 3 }, { bytes: 5 * 2 ** 20, objects: 1 })
 * // 'it needs 5 MiB and you use 98 MiB of your 100 MiB (2 MiB left)'
 * ```
 */
export function quotaWords(quota: Quota, usage: Usage, extra: Usage): string {
  const parts: string[] = [];
  if (quota.maxBytes !== undefined && usage.bytes + extra.bytes > quota.maxBytes) {
    const left = Math.max(0, quota.maxBytes - usage.bytes);
    parts.push(
      `it needs ${formatBytes(extra.bytes)} and you use ${formatBytes(usage.bytes)} of your ` +
        `${formatBytes(quota.maxBytes)} (${formatBytes(left)} left)`,
    );
  }
  if (quota.maxObjects !== undefined && usage.objects + extra.objects > quota.maxObjects) {
    parts.push(`you have ${usage.objects} of your ${quota.maxObjects} objects`);
  }
  return parts.join('; ');
}

/** `quota_exceeded` at minting: the declared size (or the key's ceiling) does not fit. */
export function quotaRefusal(quota: Quota, usage: Usage, extra: Usage): ValetError {
  const words = quotaWords(quota, usage, extra);
  return new ValetError(
    'quota_exceeded',
    `this upload would exceed your storage quota${words ? `: ${words}` : ''}; delete objects to make room`,
  );
}

/**
 * `quota_exceeded` at completion: the upload, at its real size, went past the quota and was
 * removed. `over` is the usage with the upload counted in, when known.
 */
export function overQuota(over?: { quota: Quota; usage: Usage; size: number }): ValetError {
  const words =
    over &&
    quotaWords(
      over.quota,
      { bytes: over.usage.bytes - over.size, objects: over.usage.objects - 1 },
      { bytes: over.size, objects: 1 },
    );
  return new ValetError(
    'quota_exceeded',
    `the upload was removed: it would exceed your storage quota${words ? `: ${words}` : ''}`,
  );
}
