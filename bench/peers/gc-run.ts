// The garbage-collection part of `npm run bench:peers` (issue 29): ten 1 GiB PUTs with curl into
// one Valet storage process and one plain server, each run with V8's --trace-gc, counting the
// full (mark-compact) collections each upload caused and the process's CPU time for it.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { publicJwk, type SigningKey } from '../../src/token/keys.js';
import { mintValetKey } from '../../src/token/mint.js';
import { log, startNode, stop } from '../common.js';
import { cpuSeconds, largePut } from './load.js';
import { roundsCell } from './rounds.js';

const MiB = 2 ** 20;

interface GcRuns {
  compacts: number[];
  cpu: number[];
  rate: number[];
}

/** Starts `args` with --trace-gc; counts the mark-compacts it reports on stdout. */
async function traced(args: string[], logFile: string) {
  const { proc, url } = await startNode(['--trace-gc', ...args], logFile);
  let compacts = 0;
  proc.stdout?.on('data', (d: string) => {
    compacts += d.match(/Mark-Compact/g)?.length ?? 0;
  });
  return { proc, url, compacts: () => compacts };
}

export async function gcSection(o: {
  uploads: number;
  large: number;
  file: string;
  work: string;
  signing: SigningKey;
}): Promise<string[]> {
  log(`gc: ${o.uploads} uploads of ${o.large / MiB} MiB into one process each, --trace-gc`);
  const jwks = path.join(o.work, 'gc-jwks.json');
  await writeFile(jwks, JSON.stringify({ keys: [publicJwk(o.signing.jwk)] }));
  const valet = await traced(
    ['bin/valet.js', 'storage', '--data', path.join(o.work, 'gc-valet'), '--jwks', jwks, '--port', '0'],
    path.join(o.work, 'gc-valet.log'),
  );
  const plain = await traced(
    ['--import', 'tsx', 'bench/baseline-server.ts', path.join(o.work, 'gc-plain')],
    path.join(o.work, 'gc-plain.log'),
  );
  const key = (op: 'put' | 'delete', object: string) =>
    mintValetKey(o.signing, {
      op,
      object,
      subject: 'bench',
      ttl: 3600,
      ...(op === 'put' && { maxSize: o.large }),
    });
  const targets = [
    {
      name: 'valet',
      server: valet,
      at: async (op: 'put' | 'delete', obj: string) => `${valet.url}/o/${obj}?vk=${await key(op, obj)}`,
    },
    {
      name: 'plain',
      server: plain,
      at: async (_op: 'put' | 'delete', obj: string) => `${plain.url}/o/${obj}`,
    },
  ];
  const runs = new Map<string, GcRuns>(targets.map((t) => [t.name, { compacts: [], cpu: [], rate: [] }]));
  try {
    for (let i = 0; i < o.uploads; i++) {
      for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
        const pid = t.server.proc.pid as number;
        const system = {
          name: t.name,
          pids: () => [pid],
          put: async (obj: string) => ({
            url: await t.at('put', obj),
            headers: {} as Record<string, string>,
          }),
        };
        const before = t.server.compacts();
        const cpu0 = cpuSeconds([pid]);
        const put = await largePut(system, `gc/${i}.bin`, o.file, o.large);
        const r = runs.get(t.name) as GcRuns;
        r.compacts.push((t.server.compacts() - before) / (o.large / 2 ** 30));
        r.cpu.push((cpuSeconds([pid]) - cpu0) / (o.large / 2 ** 30));
        r.rate.push(o.large / MiB / put.seconds);
        await fetch(await t.at('delete', `gc/${i}.bin`), { method: 'DELETE' }).then((res) =>
          res.arrayBuffer(),
        );
      }
      log(
        `  upload ${i + 1}: ${targets.map((t) => `${t.name} ${runs.get(t.name)?.compacts.at(-1)} mark-compacts`).join(', ')}`,
      );
    }
  } finally {
    await stop(valet.proc);
    await stop(plain.proc);
  }
  const row = (label: string, pick: (r: GcRuns) => number[], digits: number) =>
    `| ${label} | ${targets.map((t) => roundsCell(pick(runs.get(t.name) as GcRuns), digits)).join(' | ')} |`;
  return [
    `| ${o.uploads} × ${o.large / MiB} MiB PUT into one process: median (each upload) | Valet storage | plain |`,
    '| --- | ---: | ---: |',
    row('full collections (mark-compacts) per GiB', (r) => r.compacts, 0),
    row('server CPU per GiB, s', (r) => r.cpu, 2),
    row('MiB/s', (r) => r.rate, 0),
    '',
  ];
}
