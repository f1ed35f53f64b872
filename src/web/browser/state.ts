// What the demo page shares between its parts: the client, the session, share links made in this
// tab, and how errors and sizes read.
import { createClient } from '../../client/client.js';
import { isValetError } from '../../token/errors.js';

export { formatBytes, formatDuration } from '../../token/units.js';

export const session = {
  token: sessionStorage.getItem('valet-token'),
  user: sessionStorage.getItem('valet-user'),
};

export const client = createClient({ issuer: location.origin, getToken: () => session.token });

/**
 * Share links created in this tab, by id. The issuer keeps only a hash of each link, so only the
 * tab that made one can copy it; kept in sessionStorage so that a reload keeps them.
 */
export const links = {
  all(): Record<string, string> {
    try {
      return JSON.parse(sessionStorage.getItem('valet-links') ?? '{}') as Record<string, string>;
    } catch {
      return {};
    }
  },
  get(id: string): string | undefined {
    return links.all()[id];
  },
  set(id: string, url: string): void {
    sessionStorage.setItem('valet-links', JSON.stringify({ ...links.all(), [id]: url }));
  },
  delete(id: string): void {
    const { [id]: _gone, ...rest } = links.all();
    sessionStorage.setItem('valet-links', JSON.stringify(rest));
  },
  clear(): void {
    sessionStorage.removeItem('valet-links');
  },
};

/** Codes that mean the session itself is over (the page then asks to sign in again). */
export const SESSION_OVER = new Set(['unauthenticated', 'token_expired', 'token_invalid']);

/** An error in words, with what to do about it. */
export function say(error: unknown): { text: string; kind: 'info' | 'error' } {
  if (isValetError(error, 'aborted')) return { text: 'Cancelled.', kind: 'info' };
  if (!isValetError(error))
    return { text: sentence(error instanceof Error ? error.message : String(error)), kind: 'error' };
  if (SESSION_OVER.has(error.code)) return { text: 'Your session has ended: sign in again.', kind: 'error' };
  if (error.code === 'network_error')
    return { text: `${sentence(error.message)} Is valet dev still running? Try again.`, kind: 'error' };
  if (error.code === 'quota_exceeded')
    return { text: `${sentence(error.message)} Delete something first.`, kind: 'error' };
  return { text: sentence(error.message), kind: 'error' };
}

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
