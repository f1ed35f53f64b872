// Signing in and out with the development identity provider, and a session that ended.

import { isValetError } from '../../token/errors.js';
import { $, toast } from './dom.js';
import { refresh } from './objects.js';
import { links, SESSION_OVER, say, session } from './state.js';

export async function signIn(name: 'alice' | 'bob'): Promise<void> {
  try {
    const response = await fetch('/idp/token', { method: 'POST', body: new URLSearchParams({ user: name }) });
    if (!response.ok) throw new Error(`the sign-in service answered ${response.status}`);
    const body = (await response.json()) as { token: string };
    if (session.user !== name) links.clear();
    session.token = body.token;
    session.user = name;
    sessionStorage.setItem('valet-token', body.token);
    sessionStorage.setItem('valet-user', name);
  } catch (error) {
    toast(`Could not sign in: ${say(error).text}`, 'error');
    return;
  }
  $('transfers').textContent = '';
  $('preview').textContent = '';
  toast(`Signed in as ${name}.`);
  await refresh();
  $('sign-out').focus();
}

/** Forgets the session (and the share links this tab made) and shows the signed-out page. */
export async function signOut(message = 'Signed out.', expired = false): Promise<void> {
  session.token = null;
  session.user = null;
  sessionStorage.removeItem('valet-token');
  sessionStorage.removeItem('valet-user');
  links.clear();
  $('transfers').textContent = '';
  $('preview').textContent = '';
  toast(message, expired ? 'error' : 'info');
  await refresh(expired ? 'Your session has ended. Sign in again to see your objects.' : undefined);
  $('as-alice').focus();
}

/** True (and the page signed out) when `error` means the session is over. */
export function endedSession(error: unknown): boolean {
  if (!isValetError(error) || !SESSION_OVER.has(error.code) || session.token === null) return false;
  void signOut('Your session has ended: sign in again.', true);
  return true;
}

/** Shows who is signed in, or the sign-in buttons; enables the drop zone only when signed in. */
export function renderAccount(): void {
  const signedIn = session.token !== null;
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
  $('who').textContent = session.user ?? '';
  $<HTMLInputElement>('files').disabled = !signedIn;
  $('drop').setAttribute('aria-disabled', String(!signedIn));
  $('drop-title').textContent = signedIn ? 'Drop files here' : 'Sign in to upload';
}
