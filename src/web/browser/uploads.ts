// Uploads: each file straight to storage with a key from the issuer, with progress, speed, time
// left and a Cancel button next to it; the last one explained in "The last transfer".
import type { UploadResult } from '../../client/client.js';
import { $, button, el, nameLabel, toast } from './dom.js';
import { objectNamed, refreshUntil } from './objects.js';
import { endedSession } from './session.js';
import { client, formatBytes, formatDuration, say, session } from './state.js';

export function uploadFiles(files: Iterable<File>): void {
  if (!session.token) {
    toast('Sign in first.', 'error');
    return;
  }
  for (const file of files) void uploadUnlessKept(file);
}

/** A file whose name is taken asks first: replace the object, keep both, or skip this file. */
async function uploadUnlessKept(file: File): Promise<void> {
  if (!objectNamed(file.name)) return uploadOne(file, file.name);
  const choice = await ask(file.name);
  if (choice === 'replace') return uploadOne(file, file.name);
  if (choice === 'both') return uploadOne(file, freeName(file.name));
}

/** "NAME exists already": Replace, Keep both or Skip, in the transfers list, next to the file. */
function ask(name: string): Promise<'replace' | 'both' | 'skip'> {
  return new Promise((resolve) => {
    const answer = (choice: 'replace' | 'both' | 'skip') => () => {
      row.remove();
      resolve(choice);
    };
    const row = el(
      'li',
      { className: 'transfer question', dataset: { name } },
      el(
        'div',
        { className: 'confirm', role: 'group' },
        `${name} exists already.`,
        button('Replace', `Replace ${name}`, answer('replace'), 'danger'),
        button('Keep both', `Keep both copies of ${name}`, answer('both')),
        button('Skip', `Skip ${name}`, answer('skip')),
      ),
    );
    row.firstElementChild?.setAttribute('aria-label', `${name} exists already`);
    $('transfers').prepend(row);
    row.querySelector<HTMLElement>('button:last-child')?.focus();
  });
}

/** "photo (2).png": the first such name not listed yet. */
function freeName(name: string): string {
  const dot = name.lastIndexOf('.');
  const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 2; ; n++) {
    const candidate = `${stem} (${n})${extension}`;
    if (!objectNamed(candidate)) return candidate;
  }
}

async function uploadOne(file: File, name: string): Promise<void> {
  const controller = new AbortController();
  const bar = el('progress', { max: 1, value: 0 });
  bar.setAttribute('aria-label', `Upload progress of ${name}`);
  const detail = el('span', { className: 'detail' }, `Waiting for a key · ${formatBytes(file.size)}`);
  const cancel = button('Cancel', `Cancel the upload of ${name}`, () => controller.abort());
  const row = el('li', { className: 'transfer', dataset: { name } }, nameLabel(name), cancel, bar, detail);
  $('transfers').prepend(row);
  const started = performance.now();
  // Bytes storage already had when the upload resumed: not part of this transfer's speed.
  let resumedAt = 0;
  try {
    const result = await client.upload(file, {
      name,
      ...(file.type && { contentType: file.type }),
      signal: controller.signal,
      // Cancel means cancel: the upload is removed from storage. Closing the page instead keeps
      // it, and choosing the same file again resumes it.
      keepOnAbort: false,
      onResume: ({ offset, total }) => {
        resumedAt = offset;
        toast(`Resuming ${name}: ${formatBytes(offset)} of ${formatBytes(total)} already stored.`);
        row.classList.add('resumed');
      },
      onProgress: ({ loaded, total }) => {
        const size = total ?? file.size;
        const seconds = Math.max(0.001, (performance.now() - started) / 1000);
        bar.value = size === 0 ? 1 : loaded / size;
        const percent = size === 0 ? 100 : Math.floor((100 * loaded) / size);
        const speed = Math.max(0, loaded - resumedAt) / seconds;
        const left = speed > 0 && loaded < size ? ` · ${formatDuration((size - loaded) / speed)} left` : '';
        detail.textContent = `${formatBytes(loaded)} of ${formatBytes(size)} · ${percent}% · ${formatBytes(speed)}/s${left}`;
      },
      // Every upload is checked before anyone may read it (valet dev: its true type, and with
      // --clamd a virus scan): the row says so, then the verdict.
      onValidation: ({ status }) => {
        if (status !== 'pending') return;
        detail.textContent = `${formatBytes(file.size)} stored · checking… (nobody can read it until it passes)`;
        row.classList.add('checking');
      },
    });
    row.classList.remove('checking');
    bar.value = 1;
    detail.textContent = `${formatBytes(result.size)} · 100% · done, stored as ${result.object}`;
    row.classList.add('done');
    showPattern(result);
    toast(`Uploaded ${name}.`);
    await refreshUntil(result.object);
  } catch (error) {
    row.classList.remove('checking');
    const said = say(error);
    row.classList.add(said.kind === 'error' ? 'failed' : 'cancelled');
    detail.textContent = said.text;
    if (!endedSession(error)) toast(`${name}: ${said.text}`, said.kind);
  } finally {
    cancel.remove();
  }
}

function showPattern(result: UploadResult): void {
  const { grant, bytes } = result;
  const limits = Object.entries(grant.constraints).map(([k, v]) =>
    k === 'max_size' || k === 'size' ? `${k}=${formatBytes(Number(v))}` : `${k}=${JSON.stringify(v)}`,
  );
  $('pattern').replaceChildren(
    el('dt', {}, 'To the issuer'),
    el('dd', {}, `${formatBytes(bytes.toIssuer)}: the key request, nothing of the file`),
    el('dt', {}, 'To storage'),
    el('dd', {}, `${formatBytes(bytes.toStorage)}: the file, sent directly`),
    el('dt', {}, 'Key scope'),
    el('dd', {}, `${grant.op} ${grant.object}, and nothing else`),
    el('dt', {}, 'Key limits'),
    el('dd', {}, limits.join(', ') || 'none'),
    el('dt', {}, 'Key expires'),
    el('dd', {}, new Date(grant.expiresAt).toLocaleTimeString()),
  );
}
