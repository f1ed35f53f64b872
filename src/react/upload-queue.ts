import type { UploadData, ValetClient } from '../client/client.js';
import type { UploadItem, UseUploadsOptions } from './use-uploads.js';

let counter = 0;

/**
 * The queue behind {@link useUploads}, apart from React: what waits (in order), what runs and how
 * to stop it; at most `concurrency` at once. Each change of a file is reported to `update`.
 */
export class UploadQueue {
  readonly #client: ValetClient;
  readonly #options: () => UseUploadsOptions;
  readonly #update: (id: string, change: Partial<UploadItem>) => void;
  #waiting: Array<{ id: string; data: UploadData }> = [];
  readonly #running = new Map<string, AbortController>();
  #closed = false;

  constructor(
    client: ValetClient,
    options: () => UseUploadsOptions,
    update: (id: string, change: Partial<UploadItem>) => void,
  ) {
    this.#client = client;
    this.#options = options;
    this.#update = update;
  }

  /** Queues files; returns their items, `queued`, in order. */
  add(files: UploadData[]): UploadItem[] {
    const added = files.map((data) => ({ id: `upload-${++counter}`, data }));
    this.#waiting.push(...added);
    const items = added.map(
      ({ id, data }): UploadItem => ({
        id,
        name: this.#options().name?.(data) ?? fileName(data),
        status: 'queued',
        progress: null,
        result: null,
        error: null,
      }),
    );
    queueMicrotask(() => this.#pump());
    return items;
  }

  /** Cancels one file: a queued one never starts, one under way is ended at storage. */
  cancel(id: string): void {
    const queued = this.#waiting.findIndex((w) => w.id === id);
    if (queued >= 0) {
      this.#waiting.splice(queued, 1);
      this.#update(id, { status: 'cancelled' });
    }
    this.#running.get(id)?.abort();
  }

  cancelAll(): void {
    for (const { id } of [...this.#waiting]) this.cancel(id);
    for (const controller of this.#running.values()) controller.abort();
  }

  /** Takes files again after {@link close} (React's strict mode mounts a component twice). */
  open(): void {
    this.#closed = false;
  }

  /** Stops everything and reports nothing more (the component unmounted). */
  close(): void {
    this.#closed = true;
    this.#waiting = [];
    for (const controller of this.#running.values()) controller.abort();
  }

  #pump(): void {
    const limit = Math.max(1, this.#options().concurrency ?? 3);
    while (!this.#closed && this.#running.size < limit && this.#waiting.length > 0) {
      const next = this.#waiting.shift() as { id: string; data: UploadData };
      void this.#start(next.id, next.data);
    }
  }

  async #start(id: string, data: UploadData): Promise<void> {
    const controller = new AbortController();
    this.#running.set(id, controller);
    const { concurrency: _, name, ...defaults } = this.#options();
    const proposed = name?.(data);
    const update = (change: Partial<UploadItem>) => {
      if (!this.#closed) this.#update(id, change);
    };
    update({ status: 'uploading', progress: { loaded: 0, ...sized(data) } });
    try {
      const result = await this.#client.upload(data, {
        keepOnAbort: false,
        ...defaults,
        ...(proposed !== undefined && { name: proposed }),
        signal: controller.signal,
        onProgress: (progress) => update({ progress }),
        onValidation: (validation) => {
          if (validation.status === 'pending') update({ status: 'checking' });
          defaults.onValidation?.(validation);
        },
      });
      update({ status: 'done', result });
    } catch (error) {
      const cancelled = controller.signal.aborted;
      update({
        status: cancelled ? 'cancelled' : 'error',
        error: cancelled ? null : error instanceof Error ? error : new Error(String(error)),
      });
    } finally {
      this.#running.delete(id);
      this.#pump();
    }
  }
}

function fileName(data: UploadData): string {
  const name = (data as { name?: unknown }).name;
  return typeof name === 'string' ? name : '';
}

function sized(data: UploadData): { total?: number } {
  const size = (data as { size?: unknown }).size;
  return typeof size === 'number' ? { total: size } : {};
}
