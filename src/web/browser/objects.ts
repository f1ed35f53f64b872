// The user's objects as a grid of thumbnails or a list, with preview, download, share and a
// delete that asks first; and the refresh that redraws objects, share links and limits.
import type { Me, ObjectInfo } from '../../client/client.js';
import { $, button, el, nameLabel, toast } from './dom.js';
import { renderLimits } from './limits.js';
import { endedSession, renderAccount } from './session.js';
import { copy, renderShares } from './shares.js';
import { baseName, client, formatBytes, links, say, session } from './state.js';

const IMAGE = /^image\/(png|jpeg|gif|webp|avif)$/;
/** Read URLs for thumbnails, by key and version, reused until shortly before they expire. */
const thumbs = new Map<string, { etag: string; url: string; expiresAt: number }>();
let loadedOnce = false;

/** Redraws everything from the issuer; `signedOutMessage` replaces the signed-out wording. */
export async function refresh(signedOutMessage?: string): Promise<ObjectInfo[]> {
  renderAccount();
  if (!session.token) {
    loadedOnce = false;
    shown = '';
    notes.clear();
    confirming.clear();
    renderLimits(null);
    showState('objects', signedOutMessage ?? 'Sign in to see your objects.', Boolean(signedOutMessage));
    showState('shares', 'Sign in to see your share links.');
    $('objects').replaceChildren();
    $('shares').replaceChildren();
    return [];
  }
  if (!loadedOnce) showState('objects', 'Loading your objects…');
  try {
    const [objects, shares, me] = await Promise.all([client.list(), client.shares(), client.me()]);
    loadedOnce = true;
    objects.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    renderObjects(objects);
    renderShares(shares);
    renderLimits(me as Me);
    return objects;
  } catch (error) {
    if (!endedSession(error)) showState('objects', `Could not load your objects. ${say(error).text}`, true);
    return [];
  }
}

/**
 * Storage reports a completed upload (or a deletion) to the issuer by webhook: poll the listing
 * briefly until it shows, then redraw once (objects, share links and limits).
 */
export async function refreshUntil(key: string, present = true): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const listed = await client.list().catch(() => []);
    if (listed.some((o) => o.object === key) === present) break;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  await refresh();
}

/** The line that stands for a list that is loading, empty, signed out or failed. */
function showState(list: 'objects' | 'shares', text: string, isError = false): void {
  const state = $(`${list}-state`);
  state.textContent = text;
  state.classList.toggle('error', isError);
  state.hidden = false;
}

/** What the list shows last; a refresh that finds the same redraws nothing (focus, notes stay). */
let shown = '';
/** Feedback shown next to an object's buttons, by key (kept across redraws): a share link too. */
const notes = new Map<string, { text: string; error: boolean; link?: string }>();
/** The objects listed last: an upload under a name already taken asks first. */
let listed: ObjectInfo[] = [];

/** The listed object with this file name, if any. */
export function objectNamed(name: string): ObjectInfo | undefined {
  return listed.find((o) => baseName(o.object) === name);
}
/** Objects whose delete is being confirmed. */
const confirming = new Set<string>();

function renderObjects(objects: ObjectInfo[]): void {
  listed = objects;
  // An object published after its checks keeps its ETag and time: its state is part of it too.
  const signature = JSON.stringify(objects.map((o) => [o.object, o.etag, o.updatedAt, o.validation]));
  if (signature !== shown) {
    shown = signature;
    keepingFocus($('objects'), () => $('objects').replaceChildren(...objects.map(objectCard)));
  }
  const state = $('objects-state');
  if (objects.length === 0) showState('objects', 'No objects yet. Upload a file and it shows here.');
  else state.hidden = true;
}

/** Redraws `region` and puts the focus back on the control of the same name, if it was inside. */
export function keepingFocus(region: HTMLElement, redraw: () => void): void {
  const active = document.activeElement as HTMLElement | null;
  const label =
    active && region.contains(active) ? (active.getAttribute('aria-label') ?? active.title) : null;
  redraw();
  if (!label) return;
  const same = [...region.querySelectorAll<HTMLElement>('[aria-label], [title]')].find(
    (candidate) => (candidate.getAttribute('aria-label') ?? candidate.title) === label,
  );
  same?.focus();
}

function setNote(key: string, text: string, error = false, link?: string): void {
  notes.set(key, { text, error, ...(link && { link }) });
  const note = document.querySelector<HTMLElement>(`#objects li[data-key="${CSS.escape(key)}"] .note`);
  if (note) showNote(note, key);
}

function showNote(note: HTMLElement, key: string): void {
  const current = notes.get(key);
  note.className = `note${current?.error ? ' error' : ''}`;
  note.replaceChildren(current?.text ?? '');
  const link = current?.link;
  if (!link) return;
  // The link right under the object it shares, ready to copy (it is also under "Share links").
  const name = baseName(key);
  const field = el('input', { type: 'text', readOnly: true, value: link, className: 'link-field' });
  field.setAttribute('aria-label', `Share link to ${name}`);
  field.addEventListener('focus', () => field.select());
  note.append(
    field,
    button('Copy', `Copy the share link to ${name}`, () => void copy(link, name)),
  );
}

function objectCard(o: ObjectInfo): HTMLLIElement {
  const name = baseName(o.object);
  const actions = el('div', { className: 'actions' });
  const note = el('p', { className: 'note' });
  showNote(note, o.object);
  const card = el(
    'li',
    { className: 'object', dataset: { key: o.object } },
    thumbnail(o),
    info(o),
    actions,
    note,
  );
  // Being checked: nobody may read or share it yet; only deleting it makes sense.
  if (o.validation === 'pending') {
    card.classList.add('checking');
    note.textContent = 'Checking… nobody can read or share it until it passes.';
    actions.append(button('Delete', `Delete ${name}`, () => confirmDelete(o, actions)));
    return card;
  }
  if (IMAGE.test(o.contentType) || o.contentType.startsWith('video/'))
    actions.append(button('Preview', `Preview ${name}`, () => void preview(o)));
  actions.append(
    button('Download', `Download ${name}`, () => void download(o)),
    button('Share', `Share ${name}`, () => void share(o)),
    button('Delete', `Delete ${name}`, () => confirmDelete(o, actions)),
  );
  if (confirming.has(o.object)) confirmDelete(o, actions, false);
  return card;
}

function info(o: ObjectInfo): HTMLDivElement {
  const field = (label: string, value: string, optional = false, title?: string) => [
    el('dt', { className: optional ? 'optional' : '' }, label),
    el('dd', { className: optional ? 'optional' : '', ...(title && { title }) }, value),
  ];
  return el(
    'div',
    { className: 'info' },
    nameLabel(baseName(o.object)),
    el(
      'dl',
      { className: 'fields' },
      ...field('Size', formatBytes(o.size)),
      ...field('Type', o.contentType || 'unknown'),
      ...field('Modified', new Date(o.updatedAt).toLocaleString(), true),
      ...field(
        'SHA-256',
        o.sha256 ? `${o.sha256.slice(0, 12)}…` : 'not kept by this store',
        true,
        o.sha256 ?? undefined,
      ),
    ),
  );
}

/** An image's or a video's first frame, through a short-lived read URL; the extension otherwise. */
function thumbnail(o: ObjectInfo): HTMLDivElement {
  const box = el('div', { className: 'thumb' });
  const isImage = IMAGE.test(o.contentType);
  const isVideo = o.contentType.startsWith('video/');
  const extension = baseName(o.object).includes('.') ? (baseName(o.object).split('.').pop() ?? '') : '';
  box.dataset.label = (extension || 'file').slice(0, 5).toUpperCase();
  box.textContent = box.dataset.label;
  if ((!isImage && !isVideo) || o.validation === 'pending') return box;
  void readUrlFor(o).then(
    (url) => {
      const media = isImage
        ? el('img', { src: url, alt: '', loading: 'lazy', decoding: 'async' })
        : el('video', { src: url, muted: true, preload: 'metadata' });
      if (!isImage) media.setAttribute('aria-hidden', 'true');
      // A file that is not the picture its type says: the extension, as for any other file.
      media.addEventListener('error', () => media.replaceWith(box.dataset.label ?? ''));
      box.replaceChildren(media);
    },
    () => {},
  );
  return box;
}

async function readUrlFor(o: ObjectInfo): Promise<string> {
  const cached = thumbs.get(o.object);
  if (cached && cached.etag === o.etag && cached.expiresAt - Date.now() > 60_000) return cached.url;
  const { url, expiresAt } = await client.readUrl(o.object);
  thumbs.set(o.object, { etag: o.etag, url, expiresAt: Date.parse(expiresAt) });
  return url;
}

async function preview(o: ObjectInfo): Promise<void> {
  const name = baseName(o.object);
  try {
    const { url } = await client.readUrl(o.object);
    const media = o.contentType.startsWith('video/')
      ? el('video', { src: url, controls: true })
      : el('img', { src: url, alt: name });
    const close = button('Close', `Close the preview of ${name}`, () => $('preview').replaceChildren());
    $('preview').replaceChildren(el('div', { className: 'section-head' }, el('h3', {}, name), close), media);
    close.focus();
  } catch (error) {
    if (!endedSession(error)) toast(say(error).text, 'error');
  }
}

async function download(o: ObjectInfo): Promise<void> {
  try {
    const { url } = await client.readUrl(o.object, {
      disposition: 'attachment',
      filename: baseName(o.object),
    });
    const link = el('a', { href: url, rel: 'noopener' });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    if (!endedSession(error)) toast(say(error).text, 'error');
  }
}

async function share(o: ObjectInfo): Promise<void> {
  try {
    const ttl = Number($<HTMLSelectElement>('ttl').value);
    const link = await client.share(o.object, { ttl });
    links.set(link.id, link.url);
    setNote(o.object, 'Share link:', false, link.url);
    toast(`Share link for ${baseName(o.object)} created.`);
    await refresh();
  } catch (error) {
    if (!endedSession(error)) setNote(o.object, say(error).text, true);
  }
}

/** Delete asks first, next to the button: "Delete NAME for good?" with Delete and Keep. */
function confirmDelete(o: ObjectInfo, actions: HTMLElement, focus = true): void {
  const name = baseName(o.object);
  const saved = [...actions.childNodes];
  confirming.add(o.object);
  const keep = button('Keep', `Keep ${name}`, () => {
    confirming.delete(o.object);
    actions.replaceChildren(...saved);
    actions.querySelector<HTMLElement>(`[aria-label="Delete ${CSS.escape(name)}"]`)?.focus();
  });
  const yes = button('Delete', `Yes, delete ${name}`, () => void remove(o), 'danger');
  const question = el('div', { className: 'confirm', role: 'group' }, `Delete ${name} for good?`, yes, keep);
  question.setAttribute('aria-label', `Confirm deleting ${name}`);
  actions.replaceChildren(question);
  if (focus) keep.focus();
}

async function remove(o: ObjectInfo): Promise<void> {
  try {
    await client.delete(o.object);
    confirming.delete(o.object);
    notes.delete(o.object);
    toast(`Deleted ${baseName(o.object)}.`);
    await refreshUntil(o.object, false);
  } catch (error) {
    if (!endedSession(error)) setNote(o.object, say(error).text, true);
  }
}

/** Grid (thumbnails) or list (one row each, every field); the choice is remembered. */
export function setView(view: 'grid' | 'list'): void {
  $('objects').className = `objects ${view}`;
  $('view-grid').setAttribute('aria-pressed', String(view === 'grid'));
  $('view-list').setAttribute('aria-pressed', String(view === 'list'));
  localStorage.setItem('valet-view', view);
}
