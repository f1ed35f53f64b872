import { HoldClock } from '../disk/hold-clock.js';
import type { SendProgress } from '../disk/send-file.js';
import type { Exchange } from './exchange.js';

/** A minimum transfer rate for request bodies, like Apache's mod_reqtimeout `MinRate`. */
export interface MinRate {
  /** Bytes per second a body must average over each window; 0 turns the check off. */
  bytesPerSecond: number;
  /** The window the rate is measured over, ms. */
  window: number;
}

/** On by default: 1 KiB/s over 30 s windows, so a valid key cannot hold a connection by trickling. */
export const DEFAULT_MIN_RATE: MinRate = { bytesPerSecond: 1024, window: 30_000 };

/**
 * Watches a request's body: once, over a window of the time storage was reading it (time it held
 * the body itself does not count, see {@link HoldClock}), fewer bytes came than the rate asks,
 * `tooSlow` is called once (storage then answers 408 and closes). Counted from the socket, so the
 * body's own reader is untouched. `ex.held` is set here for the body's reader to keep.
 */
export function watchBodyRate(
  ex: Exchange,
  rate: MinRate,
  tooSlow: () => void,
  now: () => number = Date.now,
): void {
  const { req } = ex;
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
  if (rate.bytesPerSecond <= 0 || !hasBody) return;
  const held = new HoldClock(now);
  ex.held = held;
  const socket = req.socket;
  let mark = { bytes: socket.bytesRead, at: now(), held: held.total() };
  // Checked four times a window, so that a window of reading time is judged soon after it ends
  // even when holds interrupted it.
  const timer = setInterval(() => {
    if (req.complete || req.destroyed) {
      clearInterval(timer);
      return;
    }
    const at = now();
    const reading = at - mark.at - (held.total() - mark.held);
    if (reading < rate.window) return;
    if (socket.bytesRead - mark.bytes < (rate.bytesPerSecond * reading) / 1000) {
      clearInterval(timer);
      tooSlow();
      return;
    }
    mark = { bytes: socket.bytesRead, at, held: held.total() };
  }, rate.window / 4);
  timer.unref();
  req.once('close', () => clearInterval(timer));
}

/**
 * Watches a download: once, over a window of the time storage spent waiting for the client to
 * take its bytes (time storage itself spent reading the disk does not count), the client took
 * fewer bytes than the rate asks, `tooSlow` is called once (storage then resets the connection:
 * the answer is under way, so there is no status left to send). A chunk the socket holds counts
 * as taken: it is judged only once it has been held longer than it would take at the minimum
 * rate. Returns a function that stops watching.
 */
export function watchSendRate(progress: SendProgress, rate: MinRate, tooSlow: () => void): () => void {
  if (rate.bytesPerSecond <= 0) return () => {};
  let mark = { sent: progress.sent, waited: progress.waiting.total() };
  const timer = setInterval(() => {
    const waited = progress.waiting.total() - mark.waited;
    if (waited < rate.window) return;
    if (progress.sent - mark.sent + progress.pending < (rate.bytesPerSecond * waited) / 1000) {
      clearInterval(timer);
      tooSlow();
      return;
    }
    mark = { sent: progress.sent, waited: progress.waiting.total() };
  }, rate.window / 4);
  timer.unref();
  return () => clearInterval(timer);
}
