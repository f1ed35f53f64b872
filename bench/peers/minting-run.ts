// The minting part of `npm run bench:peers`: Valet's issuer in an app against a hand-written
// endpoint (jose bearer check + AWS presign) and a hello-world server, all behind the same JWT
// bearer, at 20 and at 50 connections, alternating within each round.
import path from 'node:path';
import { benchKeys, log, median, startNode, startStorageAndApp, stop } from '../common.js';
import { type MintResult, mintLoad, startIdp } from './minting.js';
import { ratioCell, roundsCell, targetCell } from './rounds.js';

const LEVELS = [20, 50];

export async function mintingSection(o: {
  rounds: number;
  seconds: number;
  work: string;
}): Promise<string[]> {
  log(`minting: ${o.rounds} rounds of ${o.seconds} s at ${LEVELS.join(' and ')} connections`);
  const idp = await startIdp();
  const keys = await benchKeys(o.work);
  const { storage, app } = await startStorageAndApp(o.work, keys, {
    mode: 'valet',
    tag: 'mint',
    jwksUri: idp.jwksUri,
    bearer: idp.bearer,
  });
  const presign = await startNode(
    ['--import', 'tsx', 'bench/peers/presign-server.ts', idp.jwksUri],
    path.join(o.work, 'presign.log'),
  );
  const hello = await startNode(['--import', 'tsx', 'bench/hello-server.ts'], path.join(o.work, 'hello.log'));
  const targets = [
    { name: 'valet', url: app.url, pids: [app.proc.pid as number] },
    { name: 'hand-written', url: presign.url, pids: [presign.proc.pid as number] },
    { name: 'hello', url: hello.url, pids: [hello.proc.pid as number] },
  ];
  const runs = new Map<string, MintResult[]>(
    targets.flatMap((t) => LEVELS.map((c) => [`${t.name}@${c}`, []] as [string, MintResult[]])),
  );
  try {
    for (const t of targets)
      await mintLoad(t.url, t.pids, {
        bearer: idp.bearer,
        connections: 50,
        seconds: 1,
        tag: `warm-${t.name}`,
      });
    for (let round = 0; round < o.rounds; round++) {
      for (const t of targets.map((_, i) => targets[(i + round) % targets.length] as (typeof targets)[0])) {
        for (const connections of LEVELS) {
          const run = await mintLoad(t.url, t.pids, {
            bearer: idp.bearer,
            connections,
            seconds: o.seconds,
            tag: `${t.name}-${connections}-${round}`,
          });
          runs.get(`${t.name}@${connections}`)?.push(run);
          log(
            `  round ${round + 1} ${t.name} at ${connections}: ${run.rps.toFixed(0)} req/s, p99 ${run.p99} ms`,
          );
        }
      }
    }
  } finally {
    await Promise.all([stop(app.proc), stop(storage.proc), stop(presign.proc), stop(hello.proc)]);
    await idp.close();
  }
  const of = (name: string, c: number, pick: (r: MintResult) => number) =>
    (runs.get(`${name}@${c}`) ?? []).map(pick);
  const lines = [
    '| minting: median (rounds) | Valet issuer | hand-written presign | hello-world | Valet / hand-written | target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const c of LEVELS) {
    const rps = (n: string) => of(n, c, (r) => r.rps);
    const p99 = (n: string) => of(n, c, (r) => r.p99);
    const cpu = (n: string) => of(n, c, (r) => r.cpuPerRequest * 1000);
    const p99Target = c === 20 ? `< 20 ms (${median(p99('valet')) < 20 ? 'met' : '**not met**'})` : '';
    lines.push(
      `| keys/s at ${c} connections | ${roundsCell(rps('valet'))} | ${roundsCell(rps('hand-written'))} | ${roundsCell(rps('hello'))} | ${ratioCell(rps('valet'), rps('hand-written'))} | ${targetCell(rps('valet'), rps('hand-written'), 3)} |`,
      `| p99 latency at ${c}, ms | ${roundsCell(p99('valet'))} | ${roundsCell(p99('hand-written'))} | ${roundsCell(p99('hello'))} | | ${p99Target} |`,
      `| server CPU per request at ${c}, ms | ${roundsCell(cpu('valet'), 3)} | ${roundsCell(cpu('hand-written'), 3)} | ${roundsCell(cpu('hello'), 3)} | | |`,
    );
  }
  lines.push('');
  return lines;
}
