import { ValetError } from '../token/errors.js';
import type { ClientContext } from './context.js';
import { aborted } from './errors.js';

/**
 * Runs `attempt` up to `attempts` times: again after a network error or a 5xx (with backoff and
 * jitter), and after `token_expired` / `token_not_yet_valid` (the key expired before the transfer
 * started: the next attempt asks for a new one). Other refusals are thrown at once.
 */
export async function withRetry<T>(
  ctx: ClientContext,
  attempts: number,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T> {
  let delay = ctx.retryDelay;
  for (let i = 1; ; i++) {
    if (signal?.aborted) throw aborted();
    try {
      return await attempt();
    } catch (error) {
      if (i >= attempts || !retryable(error) || signal?.aborted) throw error;
    }
    await sleep(delay * (0.5 + Math.random() / 2), signal);
    delay *= 2;
  }
}

/**
 * True for failures worth another attempt: network, expired or not-yet-valid key, 5xx (but a
 * server set up wrongly: retrying cannot fix that).
 */
export function retryable(error: unknown): boolean {
  if (!(error instanceof ValetError)) return false;
  return (
    error.code === 'network_error' ||
    error.code === 'token_expired' ||
    error.code === 'token_not_yet_valid' ||
    (error.status >= 500 && error.code !== 'invalid_options' && error.code !== 'misconfigured')
  );
}

/** Waits `ms`, or rejects with `aborted` when `signal` aborts first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(aborted());
      },
      { once: true },
    );
  });
}
