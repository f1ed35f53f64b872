/**
 * At most `limit` tasks at a time, first come first served. A task whose signal aborts while it
 * waits never runs (its promise rejects with the signal's reason) and gives its place up.
 */
export class Slots {
  readonly #limit: number;
  #busy = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a whole number from 1');
    this.#limit = limit;
  }

  /** Runs `task` once a slot is free, unless `signal` aborts first. */
  async run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.#limit) await this.#wait(signal);
    signal.throwIfAborted();
    this.#busy++;
    try {
      return await task();
    } finally {
      this.#busy--;
      this.#waiting.shift()?.();
    }
  }

  #wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const at = this.#waiting.indexOf(turn);
        if (at !== -1) this.#waiting.splice(at, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return leave();
      signal.addEventListener('abort', leave, { once: true });
      this.#waiting.push(turn);
    });
  }
}
