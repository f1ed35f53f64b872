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
 * Watches a request's body: if, over any window while the body is still arriving, fewer bytes
 * came than the rate asks, `tooSlow` is called once (storage then answers 408 and closes). Counted
 * from the socket, so the body's own reader is untouched.
 */
export function watchBodyRate(ex: Exchange, rate: MinRate, tooSlow: () => void): void {
  const { req } = ex;
  const length = Number(req.headers['content-length'] ?? 0);
  const hasBody = length > 0 || req.headers['transfer-encoding'] !== undefined;
  if (rate.bytesPerSecond <= 0 || !hasBody) return;
  const socket = req.socket;
  let mark = socket.bytesRead;
  const timer = setInterval(() => {
    if (req.complete || req.destroyed) {
      clearInterval(timer);
      return;
    }
    const read = socket.bytesRead - mark;
    mark = socket.bytesRead;
    if (read < (rate.bytesPerSecond * rate.window) / 1000) {
      clearInterval(timer);
      tooSlow();
    }
  }, rate.window);
  timer.unref();
  req.once('close', () => clearInterval(timer));
}
