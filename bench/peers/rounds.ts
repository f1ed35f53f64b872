// How bench:peers reports a figure measured over rounds: the median, then every round, and a
// ratio only when both sides' rounds agree (issue 29: "one answer"). A figure whose rounds differ
// by more than NOISY times is noisy: its system is run again, and a ratio still built on noisy
// rounds is printed as "noisy", never as a number.
import { log, median } from '../common.js';

/** Largest allowed max/min of one figure's rounds before its ratio is refused. */
export const NOISY = 1.5;

/** max / min of the rounds (1 for a single round; Infinity if one round is 0). */
export function spread(rounds: number[]): number {
  if (rounds.length < 2) return 1;
  const min = Math.min(...rounds);
  return min > 0 ? Math.max(...rounds) / min : Number.POSITIVE_INFINITY;
}

export const noisy = (rounds: number[]) => spread(rounds) > NOISY;

/** "438 (412, 438, 460)": the median, then each round in the order run. */
export function roundsCell(rounds: number[], digits = 0): string {
  const f = (n: number) => n.toFixed(digits);
  return rounds.length > 1 ? `${f(median(rounds))} (${rounds.map(f).join(', ')})` : f(median(rounds));
}

/** Median ratio a / b, or "noisy" if either side's rounds disagree by more than {@link NOISY}x. */
export function ratioCell(a: number[], b: number[]): string {
  if (noisy(a) || noisy(b)) return 'noisy';
  return `${(median(a) / median(b)).toFixed(2)}x`;
}

/** The verdict of a target "ratio ≥ goal" (or ≤ goal when `atMost`): met, not met, or noisy. */
export function targetCell(a: number[], b: number[], goal: number, atMost = false): string {
  if (noisy(a) || noisy(b)) return `${atMost ? '≤' : '≥'} ${goal}x (noisy: no verdict)`;
  const r = median(a) / median(b);
  const met = atMost ? r <= goal : r >= goal;
  return `${atMost ? '≤' : '≥'} ${goal}x (${met ? 'met' : '**not met**'})`;
}

/**
 * Runs again (all its rounds, twice at most) each of `items` whose figures are {@link noisy};
 * `rerun` measures one afresh and stores the result in place of the old.
 */
export async function rerunNoisy<T extends { name: string }>(
  items: T[],
  figures: (item: T) => number[][],
  rerun: (item: T) => Promise<void>,
): Promise<void> {
  for (let retry = 1; retry <= 2; retry++) {
    const again = items.filter((item) => figures(item).some(noisy));
    if (again.length === 0) return;
    log(
      `  noisy (rounds differ by more than ${NOISY}x): ${again.map((i) => i.name).join(', ')}; running them again`,
    );
    for (const item of again) await rerun(item);
  }
}
