import { useCallback, useEffect, useRef, useState } from 'react';
import type { Progress, UploadData, UploadOptions, UploadResult, ValetClient } from '../client/client.js';
import { UploadQueue } from './upload-queue.js';
import type { UploadStatus } from './use-upload.js';

/** One file of a {@link useUploads} queue. */
export interface UploadItem {
  /** Stable for the item's life: a React key. */
  id: string;
  /** The file's name (a `File`'s own, or the `name` option), else `''`. */
  name: string;
  /** `queued` until a slot is free, then as {@link useUpload}'s. */
  status: 'queued' | Exclude<UploadStatus, 'idle'>;
  progress: Progress | null;
  result: UploadResult | null;
  error: (Error & { code?: string }) | null;
}

/** Options of {@link useUploads}: the client's upload options for every file, and how many at once. */
export interface UseUploadsOptions extends Omit<UploadOptions, 'signal' | 'onProgress' | 'name'> {
  /** Files uploading at the same time; the rest wait, in order. Default 3. */
  concurrency?: number;
  /** The object name to propose for a file. Default: the file's own name. */
  name?: (data: UploadData) => string | undefined;
}

/** What {@link useUploads} returns. */
export interface UseUploads {
  /** Every file added and not removed, in the order added. */
  items: UploadItem[];
  /** Queues files (a `FileList` from an input or a drop, or any upload data); returns their ids. */
  add(files: Iterable<UploadData> | ArrayLike<UploadData>): string[];
  /** Cancels one file: queued, it never starts; under way, it is ended at storage. */
  cancel(id: string): void;
  /** Cancels every file not finished yet. */
  cancelAll(): void;
  /** Forgets a file (cancelling it first if it is not finished). */
  remove(id: string): void;
  /** Forgets every finished file (done, failed or cancelled). */
  clear(): void;
  /** True while a file is queued or under way. */
  busy: boolean;
  /** All files' bytes: sent, and in all (of those whose size is known). */
  progress: { loaded: number; total: number };
}

/**
 * A queue of uploads through a Valet client, as React state: each file with its status, progress,
 * result or error; `concurrency` at once (default 3), the rest waiting in order; cancel one or
 * all. Files under way are cancelled when the component unmounts.
 *
 * @example
 * ```tsx
 * const { add, items, cancel } = useUploads(valet, { concurrency: 2 })
 * <input type="file" multiple onChange={(e) => add(e.currentTarget.files!)} />
 * {items.map((i) => <li key={i.id}>{i.name} {i.status} <button onClick={() => cancel(i.id)}>Cancel</button></li>)}
 * ```
 */
export function useUploads(client: ValetClient, options: UseUploadsOptions = {}): UseUploads {
  const [items, setItems] = useState<UploadItem[]>([]);
  const latest = useRef(options);
  latest.current = options;
  const queue = useRef<UploadQueue | null>(null);
  queue.current ??= new UploadQueue(
    client,
    () => latest.current,
    (id, change) => setItems((all) => all.map((item) => (item.id === id ? { ...item, ...change } : item))),
  );
  useEffect(() => {
    const current = queue.current;
    current?.open();
    return () => current?.close();
  }, []);

  const add = useCallback((files: Iterable<UploadData> | ArrayLike<UploadData>): string[] => {
    const added = (queue.current as UploadQueue).add(Array.from(files as ArrayLike<UploadData>));
    setItems((all) => [...all, ...added]);
    return added.map((item) => item.id);
  }, []);
  const cancel = useCallback((id: string) => queue.current?.cancel(id), []);
  const cancelAll = useCallback(() => queue.current?.cancelAll(), []);
  const remove = useCallback((id: string) => {
    queue.current?.cancel(id);
    setItems((all) => all.filter((item) => item.id !== id));
  }, []);
  const clear = useCallback(
    () =>
      setItems((all) =>
        all.filter(
          (item) => item.status === 'queued' || item.status === 'uploading' || item.status === 'checking',
        ),
      ),
    [],
  );

  let loaded = 0;
  let total = 0;
  for (const item of items) {
    loaded += item.progress?.loaded ?? 0;
    total += item.progress?.total ?? 0;
  }
  const busy = items.some(
    (item) => item.status === 'queued' || item.status === 'uploading' || item.status === 'checking',
  );
  return { items, add, cancel, cancelAll, remove, clear, busy, progress: { loaded, total } };
}
