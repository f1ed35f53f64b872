// The user's share links that still work: copy (for links made in this tab) and revoke.
import { $, button, el, nameLabel, toast } from './dom.js';
import { keepingFocus, refresh } from './objects.js';
import { endedSession } from './session.js';
import { baseName, client, formatDuration, links, say } from './state.js';

type ShareInfo = { id: string; object: string; expiresAt: string };

/** What the list shows last (with which links this tab can copy); the same redraws nothing. */
let shown = '';

export function renderShares(shares: ShareInfo[]): void {
  const signature = JSON.stringify([shares, links.all()]);
  if (signature !== shown) {
    shown = signature;
    keepingFocus($('shares'), () => $('shares').replaceChildren(...shares.map(shareRow)));
  }
  const state = $('shares-state');
  state.classList.remove('error');
  state.textContent = 'No share links. Share an object to make one.';
  state.hidden = shares.length > 0;
}

function shareRow(s: ShareInfo): HTMLLIElement {
  const name = baseName(s.object);
  const url = links.get(s.id);
  const left = formatDuration((Date.parse(s.expiresAt) - Date.now()) / 1000);
  const actions = el('div', { className: 'actions' });
  if (url) actions.append(button('Copy link', `Copy link to ${name}`, () => void copy(url, name)));
  actions.append(button('Revoke', `Revoke the link to ${name}`, () => void revoke(s)));
  const link = url
    ? el('span', { className: 'link' }, url)
    : el(
        'span',
        { className: 'link unavailable' },
        'Not copyable here: the issuer keeps only a hash of each link, and another tab or the CLI made this one. Share again for a new link.',
      );
  return el(
    'li',
    { className: 'share', dataset: { share: s.id } },
    el(
      'div',
      { className: 'info' },
      nameLabel(name),
      el(
        'span',
        { className: 'muted' },
        `works ${left} more (until ${new Date(s.expiresAt).toLocaleString()})`,
      ),
      link,
    ),
    actions,
  );
}

/** Copies a link, or says to copy it by hand where the clipboard is refused. */
export async function copy(url: string, name: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(url);
    toast(`Link to ${name} copied.`);
  } catch {
    toast(`Copy the link by hand: ${url}`);
  }
}

async function revoke(s: ShareInfo): Promise<void> {
  try {
    await client.unshare(s.id);
    links.delete(s.id);
    toast(`Link to ${baseName(s.object)} revoked: it no longer works.`);
    await refresh();
  } catch (error) {
    if (!endedSession(error)) toast(say(error).text, 'error');
  }
}
