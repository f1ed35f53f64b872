/**
 * How long storage itself has held a request's body, not reading it (an upload waiting for its
 * turn to write, see `WriteBudget`; a download waiting for the client): the client cannot send
 * then, so that time is not its rate's.
 */
export class HoldClock {
  readonly #now: () => number;
  #since: number | undefined;
  #total = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Storage starts (true) or stops (false) holding the body. */
  set(held: boolean): void {
    const now = this.#now();
    if (held && this.#since === undefined) this.#since = now;
    if (!held && this.#since !== undefined) {
      this.#total += now - this.#since;
      this.#since = undefined;
    }
  }

  /** Milliseconds held so far, including a hold still going on. */
  total(): number {
    return this.#total + (this.#since === undefined ? 0 : this.#now() - this.#since);
  }
}
