// The demo page's script (bundled by esbuild when `valet dev` starts). Everything it does with
// files goes through the `valet/client` SDK: keys from the issuer, bytes straight to storage.
import { createClient, type ObjectInfo, type UploadResult } from '../../client/client.js';
import { isValetError } from '../../token/errors.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let token = sessionStorage.getItem('valet-token');
let user = sessionStorage.getItem('valet-user');
const client = createClient({ issuer: location.origin, getToken: () => token });
/** Share links created in this session (the issuer keeps only a hash of each, so only here can they be copied). */
const links = new Map<string, string>();

// ---- messages -----------------------------------------------------------------------------------

const READABLE: Record<string, string> = {
  entity_too_large: 'This file is larger than the rules allow.',
  entity_too_small: 'This file is smaller than the rules require.',
  unsupported_media_type: 'This type of file is not allowed here.',
  quota_exceeded: 'Your storage quota is full: delete something first.',
  forbidden: 'You may not do that.',
  invalid_object_key: 'This file name cannot be used.',
  unauthenticated: 'Your session has ended: sign in again.',
  aborted: 'Cancelled.',
  network_error: 'The server could not be reached. Try again.',
  not_found: 'That no longer exists.',
  token_expired: 'The key expired before the transfer started. Try again.',
};

function readable(error: unknown): string {
  if (isValetError(error)) return READABLE[error.code] ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

function announce(text: string, isError = false): void {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  if (dataset) Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

// ---- sign in --------------------------------------------------------------------------------------

async function signIn(name: 'alice' | 'bob'): Promise<void> {
  const response = await fetch('/idp/token', { method: 'POST', body: new URLSearchParams({ user: name }) });
  const body = (await response.json()) as { token: string };
  token = body.token;
  user = name;
  sessionStorage.setItem('valet-token', token);
  sessionStorage.setItem('valet-user', name);
  links.clear();
  $('transfers').textContent = '';
  $('preview').textContent = '';
  announce(`Signed in as ${name}.`);
  await refresh();
}

// ---- uploads --------------------------------------------------------------------------------------

function uploadFiles(files: Iterable<File>): void {
  if (!token) {
    announce('Sign in first.', true);
    return;
  }
  for (const file of files) void uploadOne(file);
}

async function uploadOne(file: File): Promise<void> {
  const controller = new AbortController();
  const bar = el('progress', { max: 1, value: 0 });
  bar.setAttribute('aria-label', `Upload progress of ${file.name}`);
  const detail = el('span', { className: 'detail' }, `0 B of ${formatBytes(file.size)}`);
  const cancel = el('button', { type: 'button', textContent: 'Cancel', onclick: () => controller.abort() });
  const row = el(
    'li',
    { dataset: { name: file.name } },
    el('strong', {}, file.name),
    ' ',
    bar,
    ' ',
    detail,
    ' ',
    cancel,
  );
  $('transfers').prepend(row);
  const started = performance.now();
  // Bytes storage already had when the upload resumed: not part of this transfer's speed.
  let resumedAt = 0;
  try {
    const result = await client.upload(file, {
      name: file.name,
      ...(file.type && { contentType: file.type }),
      signal: controller.signal,
      // Cancel means cancel: the upload is removed from storage. Closing the page instead keeps
      // it, and choosing the same file again resumes it.
      keepOnAbort: false,
      onResume: ({ offset, total }) => {
        resumedAt = offset;
        announce(`Resuming ${file.name}: ${formatBytes(offset)} of ${formatBytes(total)} already stored.`);
        row.classList.add('resumed');
      },
      onProgress: ({ loaded, total }) => {
        const size = total ?? file.size;
        const seconds = Math.max(0.001, (performance.now() - started) / 1000);
        bar.value = size === 0 ? 1 : loaded / size;
        const percent = size === 0 ? 100 : Math.floor((100 * loaded) / size);
        const speed = Math.max(0, loaded - resumedAt) / seconds;
        detail.textContent = `${formatBytes(loaded)} of ${formatBytes(size)} · ${percent}% · ${formatBytes(speed)}/s`;
      },
    });
    bar.value = 1;
    detail.textContent = `${formatBytes(result.size)} · 100% · done`;
    row.classList.add('done');
    showPattern(result);
    announce(`Uploaded ${file.name}.`);
    await refreshUntil(result.key);
  } catch (error) {
    row.classList.add('failed');
    detail.textContent = readable(error);
    announce(`${file.name}: ${readable(error)}`, !isValetError(error, 'aborted'));
  } finally {
    cancel.remove();
  }
}

function showPattern(result: UploadResult): void {
  const { grant, bytes } = result;
  $('pattern').replaceChildren(
    el('dt', {}, 'To the issuer'),
    el('dd', {}, `${formatBytes(bytes.toIssuer)} (the key request)`),
    el('dt', {}, 'To storage'),
    el('dd', {}, `${formatBytes(bytes.toStorage)} (the file, directly)`),
    el('dt', {}, 'Key scope'),
    el('dd', {}, `${grant.op} ${grant.object}`),
    el('dt', {}, 'Key limits'),
    el(
      'dd',
      {},
      Object.entries(grant.constraints)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(', ') || 'none',
    ),
    el('dt', {}, 'Key expires'),
    el('dd', {}, new Date(grant.expiresAt).toLocaleTimeString()),
  );
}

// ---- objects --------------------------------------------------------------------------------------

async function refresh(): Promise<ObjectInfo[]> {
  $('who').textContent = user ?? 'nobody';
  const signedIn = token !== null;
  for (const id of ['files', 'drop']) $(id).toggleAttribute('aria-disabled', !signedIn);
  if (!signedIn) return [];
  try {
    const [objects, shares] = await Promise.all([client.list(), client.shares()]);
    objects.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
    renderObjects(objects);
    renderShares(shares);
    return objects;
  } catch (error) {
    announce(readable(error), true);
    return [];
  }
}

/** Storage reports a completed upload to the issuer by webhook: poll briefly until it is listed. */
async function refreshUntil(key: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if ((await refresh()).some((o) => o.key === key)) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

function renderObjects(objects: ObjectInfo[]): void {
  const rows = objects.map((o) => {
    const previewable =
      /^image\/(png|jpeg|gif|webp|avif)$/.test(o.contentType) || o.contentType.startsWith('video/');
    const actions = el('td', { className: 'actions' });
    if (previewable) actions.append(button('Preview', `Preview ${baseName(o.key)}`, () => preview(o)));
    actions.append(
      button('Download', `Download ${baseName(o.key)}`, () => download(o)),
      button('Share', `Share ${baseName(o.key)}`, () => share(o)),
      button('Delete', `Delete ${baseName(o.key)}`, () => remove(o)),
    );
    return el(
      'tr',
      { dataset: { key: o.key } },
      el('td', { className: 'name' }, baseName(o.key)),
      el('td', {}, formatBytes(o.size)),
      el('td', {}, o.contentType),
      el('td', {}, new Date(o.updatedAt).toLocaleString()),
      el(
        'td',
        { className: 'mono', title: o.sha256 ?? 'not kept by this store' },
        o.sha256?.slice(0, 12) ?? '—',
      ),
      actions,
    );
  });
  $('objects').replaceChildren(...rows);
  $('empty').hidden = objects.length > 0;
  ($('objects').closest('table') as HTMLTableElement).hidden = objects.length === 0;
}

function button(label: string, accessibleName: string, onclick: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', textContent: label, onclick });
  b.setAttribute('aria-label', accessibleName);
  return b;
}

async function preview(o: ObjectInfo): Promise<void> {
  try {
    const { url } = await client.readUrl(o.key);
    const media = o.contentType.startsWith('video/')
      ? el('video', { src: url, controls: true })
      : el('img', { src: url, alt: baseName(o.key) });
    $('preview').replaceChildren(el('h3', {}, baseName(o.key)), media);
  } catch (error) {
    announce(readable(error), true);
  }
}

async function download(o: ObjectInfo): Promise<void> {
  try {
    const { url } = await client.readUrl(o.key, { disposition: 'attachment', filename: baseName(o.key) });
    const link = el('a', { href: url, rel: 'noopener' });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    announce(readable(error), true);
  }
}

async function remove(o: ObjectInfo): Promise<void> {
  try {
    await client.delete(o.key);
    announce(`Deleted ${baseName(o.key)}.`);
    for (let i = 0; i < 40; i++) {
      if (!(await refresh()).some((x) => x.key === o.key)) return;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } catch (error) {
    announce(readable(error), true);
  }
}

// ---- shares ---------------------------------------------------------------------------------------

async function share(o: ObjectInfo): Promise<void> {
  try {
    const ttl = Number($<HTMLSelectElement>('ttl').value);
    const link = await client.share(o.key, { ttl });
    links.set(link.id, link.url);
    announce(`Share link for ${baseName(o.key)} created.`);
    await refresh();
  } catch (error) {
    announce(readable(error), true);
  }
}

function renderShares(shares: Array<{ id: string; key: string; expiresAt: string }>): void {
  const rows = shares.map((s) => {
    const url = links.get(s.id);
    const actions = el('td', { className: 'actions' });
    if (url) {
      actions.append(
        button('Copy', `Copy the link to ${baseName(s.key)}`, () => {
          void navigator.clipboard?.writeText(url).then(
            () => announce('Link copied.'),
            () => announce(url),
          );
        }),
      );
    }
    actions.append(
      button('Revoke', `Revoke the link to ${baseName(s.key)}`, async () => {
        try {
          await client.unshare(s.id);
          links.delete(s.id);
          announce('Link revoked.');
          await refresh();
        } catch (error) {
          announce(readable(error), true);
        }
      }),
    );
    return el(
      'tr',
      { dataset: { share: s.id } },
      el('td', {}, baseName(s.key)),
      el('td', {}, new Date(s.expiresAt).toLocaleString()),
      el('td', { className: 'mono link' }, url ?? '(created elsewhere)'),
      actions,
    );
  });
  $('shares').replaceChildren(...rows);
  $('no-shares').hidden = shares.length > 0;
  ($('shares').closest('table') as HTMLTableElement).hidden = shares.length === 0;
}

// ---- wiring ---------------------------------------------------------------------------------------

$('as-alice').addEventListener('click', () => void signIn('alice'));
$('as-bob').addEventListener('click', () => void signIn('bob'));
$<HTMLInputElement>('files').addEventListener('change', (event) => {
  const input = event.target as HTMLInputElement;
  uploadFiles(input.files ?? []);
  input.value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  uploadFiles(event.dataTransfer?.files ?? []);
});
void refresh();
