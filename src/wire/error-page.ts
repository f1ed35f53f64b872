/**
 * A readable error page for people who open a link in a browser (a share link that was
 * revoked, a download key that expired), instead of the JSON body an API client gets. Chosen only
 * when the request prefers HTML (`Accept: text/html`, which browsers send when navigating).
 */

/** True if the request's `Accept` header asks for HTML (a browser navigation). */
export function wantsHtml(accept: string | null | undefined): boolean {
  return accept !== undefined && accept !== null && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

const TITLES: Record<number, string> = {
  400: 'This request is not valid',
  401: 'This link needs a valid key',
  403: 'This link no longer works',
  404: 'Nothing here',
  410: 'This link has expired',
};

/** Headers for {@link errorPage}: no script, nothing loaded, not cached. */
export const ERROR_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page: status, a title, the (client-safe) error message and its stable code. */
export function errorPage(status: number, code: string, message: string): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'This request was refused');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}.</p>
<p>Error <code>${escapeHtml(code)}</code> (HTTP ${status}). Ask whoever sent you the link for a new one.</p></main></body></html>
`;
}
