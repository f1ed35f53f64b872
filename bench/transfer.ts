// What the S3 and Azure benchmarks share: a test file, reading a body to the end, the rounds that
// alternate Valet and the direct baseline, and the table of medians and ratios.
import { createWriteStream } from 'node:fs';
import { log, median } from './common.js';

/** One transfer's PUT and GET times, seconds. */
export interface Transfer {
  put: number;
  get: number;
}

/** Writes `size` bytes of a fixed pattern to `file`. */
export async function patternFile(file: string, size: number): Promise<void> {
  const chunk = Buffer.alloc(2 ** 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const out = createWriteStream(file);
  for (let i = 0; i < size / chunk.length; i++) {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

/** Reads a body to the end, counting bytes (the same loop for both sides). */
export async function drain(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let n = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) n += chunk.byteLength;
  return n;
}

/** `rounds` rounds of both runs, alternating which goes first; each run logged as it ends. */
export async function alternate(
  rounds: number,
  size: number,
  run: Record<'valet' | 'direct', (round: number) => Promise<Transfer>>,
): Promise<Record<'valet' | 'direct', Transfer[]>> {
  const runs: Record<'valet' | 'direct', Transfer[]> = { valet: [], direct: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['valet', 'direct'] as const) : (['direct', 'valet'] as const);
    for (const who of order) {
      const result = await run[who](round);
      runs[who].push(result);
      log(
        `  round ${round + 1} ${who}: PUT ${(size / 2 ** 20 / result.put).toFixed(1)} MiB/s, GET ${(size / 2 ** 20 / result.get).toFixed(1)} MiB/s`,
      );
    }
  }
  return runs;
}

/** The table: median MiB/s of each side for PUT and GET, the ratio, and the 0.95 target. */
export function transferTable(
  runs: Record<'valet' | 'direct', Transfer[]>,
  size: number,
  direct: string,
): string {
  const mibps = (who: 'valet' | 'direct', op: 'put' | 'get') =>
    median(runs[who].map((r) => size / 2 ** 20 / r[op]));
  const rows = (['put', 'get'] as const).map((op) => {
    const v = mibps('valet', op);
    const d = mibps('direct', op);
    const ratio = v / d;
    return `| ${size / 2 ** 20} MiB ${op.toUpperCase()} MiB/s | ${v.toFixed(1)} | ${d.toFixed(1)} | ${ratio.toFixed(2)}x | ≥ 0.95 ${ratio >= 0.95 ? '(met)' : '(**not met**)'} |`;
  });
  return [
    `| metric (median) | Valet keys | ${direct} | ratio | target |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}
