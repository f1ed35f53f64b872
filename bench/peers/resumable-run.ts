// The resumable part of `npm run bench:peers`: Valet storage's tus against plain @tus/server +
// @tus/file-store, both driven by curl, in one PATCH and in 64 MiB PATCHes, alternating.
import path from 'node:path';
import type { SigningKey } from '../../src/token/keys.js';
import { mintValetKey } from '../../src/token/mint.js';
import { log, startNode, stop } from '../common.js';
import { ratioCell, rerunNoisy, roundsCell, targetCell } from './rounds.js';
import { startSystem } from './systems.js';
import { chunkFiles, type TusTarget, tusUpload } from './tus.js';

const MiB = 2 ** 20;

interface TusRuns {
  one: number[];
  chunked: number[];
  oneCpu: number[];
  chunkedCpu: number[];
}

export async function resumableSection(o: {
  rounds: number;
  large: number;
  file: string;
  work: string;
  signing: SigningKey;
}): Promise<string[]> {
  log(`resumable: ${o.rounds} rounds of ${o.large / MiB} MiB with curl, one PATCH and 64 MiB PATCHes`);
  const pieces = {
    one: { files: await chunkFiles(o.file, o.large, o.large), chunk: o.large },
    chunked: { files: await chunkFiles(o.file, o.large, 64 * MiB), chunk: 64 * MiB },
  };
  const valet = await startSystem('valet', o.work, o.signing);
  const tusServer = await startNode(
    ['--import', 'tsx', 'bench/peers/tus-server.ts', path.join(o.work, 'tus-files')],
    path.join(o.work, 'tus.log'),
  );
  const valetUrl = new URL((await valet.get('x')).url).origin;
  const targets: TusTarget[] = [
    {
      name: 'valet',
      pids: valet.pids,
      async creation(object, size) {
        const token = await mintValetKey(o.signing, {
          op: 'put',
          object,
          subject: 'bench',
          ttl: 3600,
          resumable: true,
          maxSize: size,
        });
        return { url: `${valetUrl}/uploads`, headers: { authorization: `Bearer ${token}` } };
      },
    },
    {
      name: '@tus/server',
      pids: () => (tusServer.proc.pid === undefined ? [] : [tusServer.proc.pid]),
      creation: async () => ({ url: `${tusServer.url}/files`, headers: {} }),
    },
  ];
  const results = new Map<string, TusRuns>(
    targets.map((t) => [t.name, { one: [], chunked: [], oneCpu: [], chunkedCpu: [] }]),
  );
  const once = async (target: TusTarget, r: TusRuns, round: number) => {
    const tag = `${round}-${r.one.length}`;
    const one = await tusUpload(target, `tus/one-${tag}.bin`, pieces.one, o.large);
    const chunked = await tusUpload(target, `tus/chunked-${tag}.bin`, pieces.chunked, o.large);
    r.one.push(o.large / 1e6 / one.seconds);
    r.chunked.push(o.large / 1e6 / chunked.seconds);
    r.oneCpu.push(one.cpu / (o.large / 2 ** 30));
    r.chunkedCpu.push(chunked.cpu / (o.large / 2 ** 30));
    log(
      `  round ${round + 1} ${target.name}: one PATCH ${(o.large / 1e6 / one.seconds).toFixed(0)} MB/s, 64 MiB PATCHes ${(o.large / 1e6 / chunked.seconds).toFixed(0)} MB/s`,
    );
  };
  try {
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) await once(target, results.get(target.name) as TusRuns, round);
    }
    await rerunNoisy(
      targets,
      (t) => [(results.get(t.name) as TusRuns).one, (results.get(t.name) as TusRuns).chunked],
      async (target) => {
        const r: TusRuns = { one: [], chunked: [], oneCpu: [], chunkedCpu: [] };
        for (let round = 0; round < o.rounds; round++) await once(target, r, round);
        results.set(target.name, r);
      },
    );
  } finally {
    await valet.stop();
    await stop(tusServer.proc);
  }
  const v = results.get('valet') as TusRuns;
  const t = results.get('@tus/server') as TusRuns;
  const row = (label: string, a: number[], b: number[]) =>
    `| ${label} | ${roundsCell(a)} | ${roundsCell(b)} | ${ratioCell(a, b)} | ${targetCell(a, b, 1.0)} |`;
  return [
    '| resumable, curl: median (rounds) | Valet | @tus/server + file-store | ratio | target |',
    '| --- | ---: | ---: | ---: | --- |',
    row(`tus, ${o.large / MiB} MiB in one PATCH, MB/s`, v.one, t.one),
    row('tus, in 64 MiB PATCHes, MB/s', v.chunked, t.chunked),
    `| server CPU per GiB, one PATCH, s | ${roundsCell(v.oneCpu, 2)} | ${roundsCell(t.oneCpu, 2)} | | |`,
    `| server CPU per GiB, 64 MiB PATCHes, s | ${roundsCell(v.chunkedCpu, 2)} | ${roundsCell(t.chunkedCpu, 2)} | | |`,
    '',
  ];
}
