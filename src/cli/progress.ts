import { formatBytes, formatDuration } from '../token/units.js';

/** A one-line progress bar on stderr. */
export interface ProgressBar {
  update(loaded: number, total?: number): void;
  done(): void;
}

/** How far back the speed is measured, ms (a moving window, so it follows changes). */
const SPEED_WINDOW_MS = 5_000;

/**
 * A progress bar on stderr when it is a terminal (nothing otherwise): the phase, a bar, the
 * percentage, bytes done of the total, the speed over the last seconds and the time left.
 * `now` is the clock (ms), injectable for tests.
 *
 * @example `upload  [##########....................]  33%  341.3 MiB / 1 GiB  85.2 MiB/s  8 s left`
 */
export function progressBar(label: string, now: () => number = Date.now): ProgressBar {
  const tty = process.stderr.isTTY === true;
  const samples: Array<[number, number]> = [];
  let drawn = 0;
  let shown = false;
  return {
    update(loaded, total) {
      if (!tty) return;
      const at = now();
      samples.push([at, loaded]);
      while (samples.length > 2 && at - (samples[0]?.[0] ?? at) > SPEED_WINDOW_MS) samples.shift();
      if (at - drawn < 100 && loaded !== total) return;
      drawn = at;
      shown = true;
      process.stderr.write(`\r${line(label, loaded, total, speedOf(samples))}  `);
    },
    done() {
      if (tty && shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

/** Bytes per second over the samples kept; `undefined` until there is a measurable span. */
function speedOf(samples: Array<[number, number]>): number | undefined {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last || last[0] - first[0] < 200) return undefined;
  return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
}

/** The text of the bar. */
export function line(
  label: string,
  loaded: number,
  total: number | undefined,
  speed: number | undefined,
): string {
  const width = 30;
  const ratio = total ? Math.min(1, loaded / total) : 0;
  const bar = total ? `[${'#'.repeat(Math.round(ratio * width)).padEnd(width, '.')}] ` : '';
  const pct = total ? `${`${Math.floor(ratio * 100)}%`.padStart(4)}  ` : '';
  const amount = total ? `${formatBytes(loaded)} / ${formatBytes(total)}` : formatBytes(loaded);
  const rate = speed !== undefined ? `  ${formatBytes(Math.round(speed))}/s` : '';
  const left =
    speed && speed > 0 && total && loaded < total ? `  ${formatDuration((total - loaded) / speed)} left` : '';
  return `${label.padEnd(8)} ${bar}${pct}${amount}${rate}${left}`;
}
