// What the signed-in user may upload, shown before a file is picked (from GET /v1/me).
import type { Me } from '../../client/client.js';
import { $ } from './dom.js';
import { formatBytes, formatDuration } from './state.js';

export function renderLimits(me: Me | null): void {
  const limits = $('limits');
  if (!me) {
    limits.textContent = 'Sign in to see what you may upload.';
    return;
  }
  const upload = me.rules.find((r) => r.op === 'put');
  if (!upload) {
    limits.textContent = 'You may not upload here.';
    return;
  }
  const size =
    upload.maxSize !== undefined ? `Files up to ${formatBytes(upload.maxSize)}` : 'Files of any size';
  const types = upload.contentTypes ? `of type ${upload.contentTypes.join(', ')}` : 'of any type';
  const lifetime = upload.ttl !== undefined ? ` Each key works for ${formatDuration(upload.ttl)}.` : '';
  const { quota } = me;
  const used = `You use ${formatBytes(quota.usedBytes)} in ${quota.usedObjects} ${quota.usedObjects === 1 ? 'object' : 'objects'}`;
  const of =
    quota.maxBytes !== null || quota.maxObjects !== null
      ? ` of ${[
          quota.maxBytes !== null ? formatBytes(quota.maxBytes) : '',
          quota.maxObjects !== null ? `${quota.maxObjects} objects` : '',
        ]
          .filter(Boolean)
          .join(' and ')}.`
      : ' (no quota).';
  limits.textContent = `${size}, ${types}, go to ${upload.prefix}.${lifetime} ${used}${of}`;
}
