/**
 * The replicas of one issuer endpoint (the revocation feed, the event webhook), tried in turn:
 * storage keeps to the one that last answered and moves to the next when it fails, so any replica
 * that answers will do. With one URL it is just that URL.
 */
export class Endpoints {
  readonly #urls: string[];
  #current = 0;

  constructor(urls: string | readonly string[]) {
    this.#urls = typeof urls === 'string' ? [urls] : [...urls];
    if (this.#urls.length === 0) throw new TypeError('at least one URL is needed');
    for (const url of this.#urls) new URL(url); // a malformed one fails here, not at the first call
  }

  /** The path of the URL in use (replicas of one issuer serve the same paths). */
  get path(): string {
    return new URL(this.#urls[this.#current] as string).pathname;
  }

  get size(): number {
    return this.#urls.length;
  }

  /**
   * Calls `attempt` with each URL in turn, starting from the one that last succeeded, until one
   * resolves; that one is kept for next time. Rejects with the last failure when all fail.
   */
  async first<T>(attempt: (url: string, path: string) => Promise<T>): Promise<T> {
    let failure: unknown;
    for (let tried = 0; tried < this.#urls.length; tried++) {
      const index = (this.#current + tried) % this.#urls.length;
      const url = this.#urls[index] as string;
      try {
        const result = await attempt(url, new URL(url).pathname);
        this.#current = index;
        return result;
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }
}
