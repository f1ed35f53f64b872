/** The most one socket read brings in: Node's HTTP parser reads 64 KiB at a time. */
const READ_SIZE = 64 * 1024;
/** How soon uploads still waiting are looked at again when resumed ones have not written yet. */
const RETRY_MS = 5;

/**
 * The bytes all uploads' file writes may hold at once. Under it an upload writes on, up to the
 * 1 MiB of its own write stream's buffer; over it, an upload whose writes have landed waits its
 * turn (first come, first served) and resumes as the total falls below the budget again. A
 * waiting upload holds no body bytes (its request reads the socket only when asked, see
 * upload-file.ts), so a thousand uploads at once hold about this budget, not a buffer each
 * (measured with `npm run bench:concurrency`).
 *
 * A resumed upload takes budget only once its next socket read arrives, so each pass resumes only
 * as many as the room left would hold at one read each; if room is left but resumed uploads have
 * not written (a slow client), the rest are looked at again after {@link RETRY_MS}: a waiting
 * upload is never stuck behind one that does not send.
 */
export class WriteBudget {
  readonly limit: number;
  #used = 0;
  #turns: (() => void)[] = [];
  #retry: NodeJS.Timeout | undefined;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held by writes not yet landed. */
  get used(): number {
    return this.#used;
  }

  /** Uploads waiting for their turn. */
  get waiting(): number {
    return this.#turns.length;
  }

  get full(): boolean {
    return this.#used >= this.limit;
  }

  /** A write of `bytes` starts. */
  take(bytes: number): void {
    this.#used += bytes;
  }

  /** A write of `bytes` landed: uploads waiting their turn resume while the budget allows. */
  give(bytes: number): void {
    this.#used -= bytes;
    this.#run();
  }

  /** Runs `resume` now if the budget allows and nobody is waiting, else when its turn comes. */
  wait(resume: () => void): void {
    if (!this.full && this.#turns.length === 0) resume();
    else this.#turns.push(resume);
  }

  #run(): void {
    let resumed = 0;
    while (this.#turns.length > 0 && this.#used + resumed * READ_SIZE < this.limit) {
      resumed++;
      this.#turns.shift()?.();
    }
    if (this.#turns.length > 0 && !this.full && this.#retry === undefined) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#run();
      }, RETRY_MS);
      this.#retry.unref();
    }
  }
}

/**
 * One upload's account with a {@link WriteBudget}: the bytes its writes hold, given back as each
 * lands and all at once when it closes (a failed stream need not call every write's callback), and
 * its one place in the queue.
 */
export class BudgetAccount {
  readonly #budget: WriteBudget;
  #held = 0;
  #queued = false;

  constructor(budget: WriteBudget) {
    this.#budget = budget;
  }

  get full(): boolean {
    return this.#budget.full;
  }

  take(bytes: number): void {
    this.#held += bytes;
    this.#budget.take(bytes);
  }

  give(bytes: number): void {
    const n = Math.min(bytes, this.#held);
    this.#held -= n;
    this.#budget.give(n);
  }

  /** Gives back whatever is still held. */
  close(): void {
    this.give(this.#held);
  }

  /** Runs `resume` in this upload's turn (see {@link WriteBudget.wait}); queues it once at most. */
  waitTurn(resume: () => void): void {
    if (this.#queued) return;
    this.#queued = true;
    this.#budget.wait(() => {
      this.#queued = false;
      resume();
    });
  }
}

/** The budget all of this process's uploads into Valet storage share: 16 MiB. */
export const uploadWriteBudget = new WriteBudget(16 * 1024 * 1024);
