// The test page for valet/react: the DropZone, and a probe of the useUpload hook that records
// every state it renders (window.states). The query string picks the user and the rule.
import { useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from '../../../src/client/index.js';
import { DropZone, type UploadState, useUpload, useUploads } from '../../../src/react/index.js';

const params = new URLSearchParams(location.search);
const client = createClient({
  issuer: location.origin,
  getToken: () => `user:${params.get('user') ?? 'alice'}`,
  retries: 1,
  retryDelay: 100,
  chunkSize: 2 * 2 ** 20,
});
const rule = params.get('rule') ?? undefined;
const uploaded: string[] = [];
const states: Array<Pick<UploadState, 'status' | 'progress'> & { key?: string; error?: string }> = [];
Object.assign(globalThis, { uploaded, states });

function HookProbe() {
  const up = useUpload(client, { ...(rule && { rule }) });
  useEffect(() => {
    states.push({
      status: up.status,
      progress: up.progress,
      ...(up.result && { key: up.result.key }),
      ...(up.error && { error: up.error.message }),
    });
  }, [up.status, up.progress, up.result, up.error]);
  const size = Number(params.get('probe') ?? 3 * 2 ** 20);
  return (
    <section aria-label="hook probe">
      <button
        type="button"
        onClick={() => void up.upload(new Blob([new Uint8Array(size)]), { name: 'probe.bin' })}
      >
        Upload probe
      </button>
      <output>{up.status}</output>
    </section>
  );
}

/** The most files the queue had under way at once (window.mostRunning). */
const queue = { mostRunning: 0 };
Object.assign(globalThis, { queue });

function QueueProbe() {
  const { add, items, cancel, busy, progress } = useUploads(client, { concurrency: 2 });
  const running = items.filter((i) => i.status === 'uploading').length;
  queue.mostRunning = Math.max(queue.mostRunning, running);
  return (
    <section aria-label="queue">
      <input
        type="file"
        multiple
        aria-label="Queue files"
        onChange={(e) => add(e.currentTarget.files as FileList)}
      />
      <output aria-label="queue progress">{busy ? `${progress.loaded} of ${progress.total}` : 'idle'}</output>
      <ul>
        {items.map((item) => (
          <li key={item.id} data-status={item.status}>
            {item.name}: {item.status}
            {item.result && ` as ${item.result.key}`}
            {(item.status === 'queued' || item.status === 'uploading') && (
              <button type="button" onClick={() => cancel(item.id)}>{`Cancel ${item.name}`}</button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

createRoot(document.getElementById('app') as HTMLElement).render(
  <>
    <DropZone client={client} {...(rule && { rule })} onUploaded={(result) => uploaded.push(result.key)}>
      Your file
    </DropZone>
    <HookProbe />
    <QueueProbe />
  </>,
);
