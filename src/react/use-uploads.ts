import { useCallback, useEffect, useRef, useState } from 'react';
import type { Progress, UploadData, UploadOptions, UploadResult, ValetClient } from '../client/client.js';
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

let counter = 0;

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
  // The queue lives in refs: what waits, what runs and how to stop it, whatever React renders.
  const waiting = useRef<Array<{ id: string; data: UploadData }>>([]);
  const running = useRef(new Map<string, AbortController>());
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      waiting.current = [];
      for (const controller of running.current.values()) controller.abort();
    };
  }, []);

  const update = useCallback((id: string, change: Partial<UploadItem>) => {
    if (mounted.current)
      setItems((all) => all.map((item) => (item.id === id ? { ...item, ...change } : item)));
  }, []);

  const pump = useCallback(() => {
    const limit = Math.max(1, latest.current.concurrency ?? 3);
    while (running.current.size < limit && waiting.current.length > 0) {
      const next = waiting.current.shift() as { id: string; data: UploadData };
      void start(next.id, next.data);
    }
    async function start(id: string, data: UploadData): Promise<void> {
      const controller = new AbortController();
      running.current.set(id, controller);
      const { concurrency: _, name, ...defaults } = latest.current;
      const proposed = name?.(data);
      update(id, { status: 'uploading', progress: { loaded: 0, ...sized(data) } });
      try {
        const result = await client.upload(data, {
          keepOnAbort: false,
          ...defaults,
          ...(proposed !== undefined && { name: proposed }),
          signal: controller.signal,
          onProgress: (progress) => update(id, { progress }),
        });
        update(id, { status: 'done', result });
      } catch (error) {
        const cancelled = controller.signal.aborted;
        update(id, {
          status: cancelled ? 'cancelled' : 'error',
          error: cancelled ? null : error instanceof Error ? error : new Error(String(error)),
        });
      } finally {
        running.current.delete(id);
        if (mounted.current) pump();
      }
    }
  }, [client, update]);

  const add = useCallback(
    (files: Iterable<UploadData> | ArrayLike<UploadData>): string[] => {
      const list = Array.from(files as ArrayLike<UploadData>);
      const added = list.map((data) => ({ id: `upload-${++counter}`, data }));
      setItems((all) => [
        ...all,
        ...added.map(
          ({ id, data }): UploadItem => ({
            id,
            name: latest.current.name?.(data) ?? fileName(data),
            status: 'queued',
            progress: null,
            result: null,
            error: null,
          }),
        ),
      ]);
      waiting.current.push(...added);
      pump();
      return added.map((a) => a.id);
    },
    [pump],
  );

  const cancel = useCallback(
    (id: string) => {
      const queued = waiting.current.findIndex((w) => w.id === id);
      if (queued >= 0) {
        waiting.current.splice(queued, 1);
        update(id, { status: 'cancelled' });
      }
      running.current.get(id)?.abort();
    },
    [update],
  );
  const cancelAll = useCallback(() => {
    for (const { id } of [...waiting.current]) cancel(id);
    for (const controller of running.current.values()) controller.abort();
  }, [cancel]);
  const remove = useCallback(
    (id: string) => {
      cancel(id);
      setItems((all) => all.filter((item) => item.id !== id));
    },
    [cancel],
  );
  const clear = useCallback(
    () => setItems((all) => all.filter((item) => item.status === 'queued' || item.status === 'uploading')),
    [],
  );

  let loaded = 0;
  let total = 0;
  for (const item of items) {
    loaded += item.progress?.loaded ?? 0;
    total += item.progress?.total ?? 0;
  }
  const busy = items.some((item) => item.status === 'queued' || item.status === 'uploading');
  return { items, add, cancel, cancelAll, remove, clear, busy, progress: { loaded, total } };
}

function fileName(data: UploadData): string {
  const name = (data as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
}

function sized(data: UploadData): { total?: number } {
  const size = (data as { size?: unknown }).size;
  return typeof size === 'number' ? { total: size } : {};
}
