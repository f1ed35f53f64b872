import type { Logger } from 'pino';

/**
 * The state of one link between storage and the issuer (the revocation feed, the event webhook),
 * logged as a person wants to read it: one warning when it fails, naming why, one line when it
 * is back, and nothing new while it keeps failing for the same reason (a poll a second would
 * otherwise write a stack trace a second). No stack: the reason is the error's code and message.
 */
export class LinkHealth {
  readonly #log: Logger;
  readonly #what: string;
  #failing: string | undefined;

  constructor(log: Logger, what: string) {
    this.#log = log;
    this.#what = what;
  }

  /** The link failed, for `reason` (see {@link failureReason}). */
  failed(reason: string, fields: Record<string, unknown> = {}): void {
    if (this.#failing === reason) {
      this.#log.debug({ ...fields, reason }, `${this.#what} still failing`);
      return;
    }
    this.#failing = reason;
    this.#log.warn({ ...fields, reason }, `${this.#what} failed: ${reason}`);
  }

  /** The link works (again). */
  succeeded(): void {
    if (this.#failing === undefined) return;
    this.#failing = undefined;
    this.#log.info(`${this.#what} works again`);
  }

  /** True while the link is failing. */
  get failing(): boolean {
    return this.#failing !== undefined;
  }
}

/**
 * Why a request to the other side failed, in one line: the refusal's status, code and message
 * (`401 signature_invalid: the signature does not match …`), or the network error's code
 * (`unreachable: ECONNREFUSED`).
 */
export async function failureReason(failure: Response | unknown): Promise<string> {
  if (failure instanceof Response) {
    const text = await failure.text().catch(() => '');
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      error = undefined;
    }
    return error?.code
      ? `${failure.status} ${error.code}: ${error.message ?? ''}`
      : `answered ${failure.status}`;
  }
  const error = failure as { name?: string; code?: string; cause?: { code?: string }; message?: string };
  if (error?.name === 'TimeoutError') return 'unreachable: timed out';
  const code = error?.cause?.code ?? error?.code;
  return code ? `unreachable: ${code}` : `unreachable: ${error?.message ?? String(failure)}`;
}
