// Valet against its peers, on this machine, in one run (issues 16 and 29):
//   - storage: Valet storage, a plain node:http server that fsyncs, the same server checking one
//     Ed25519 signature per request ("plain + verify"), nginx WebDAV, Azurite, Ceph RGW: 1 GiB
//     PUT and GET with curl, 4 KiB PUT and GET with autocannon (a fresh key, SAS or presigned URL
//     per request), the store's CPU per request and its peak RSS;
//   - gc: ten 1 GiB PUTs into one Valet storage process and one plain server, full collections per GiB;
//   - resumable: Valet storage's tus against plain @tus/server + @tus/file-store, both with curl;
//   - minting: Valet's issuer in an app against a hand-written endpoint (jose bearer check + AWS
//     presign) and a hello-world server, all behind the same JWT bearer, at 20 and 50 connections;
//   - key checks: verifying valet keys against a bare node:crypto.verify with a cached KeyObject.
// Systems alternate within each round (the first one rotates). Each figure is printed as its
// median and its rounds; a system whose rounds disagree by more than 1.5x is run again, and a
// ratio still resting on such rounds is printed as "noisy", never as a number (peers/rounds.ts).
//
//   npm run bench:peers                    full run; rewrites its section of docs/benchmarks.md
//   npm run bench:peers -- --quick         smoke run (64 MiB, 2000 requests, 1 round), prints only
//
// Options: --node N (servers on the registry's Node N), --rounds N (3), --large-mib N (1024),
//          --small-count N (12000), --seconds N (10),
//          --only storage,gc,resumable,minting,verify
//          --systems valet,plain,plain-verify,nginx,azurite,ceph   --no-write
//          (--systems may also name plain-atomic: plain + verify, replacing each object atomically)
// Needs nginx (apt-get install -y nginx-light), curl and the Ceph packages test-deps installs.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningJwk, importSigningKey } from '../src/token/keys.js';
import { log, median, writeSection } from './common.js';
import { gcSection } from './peers/gc-run.js';
import { mintingSection } from './peers/minting-run.js';
import { resumableSection } from './peers/resumable-run.js';
import { noisy, roundsCell } from './peers/rounds.js';
import { storageSection } from './peers/storage-run.js';
import { SYSTEM_NAMES, type SystemName } from './peers/systems.js';
import { verifyBench } from './peers/verify.js';
import { patternFile } from './transfer.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    'large-mib': { type: 'string' },
    'small-count': { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    systems: { type: 'string' },
    'no-write': { type: 'boolean' },
    node: { type: 'string' },
  },
});
// --node N: Valet's and the Node baselines' servers run on the registry's Node N (the bench itself
// and its load generators stay on this one), e.g. the Node users run rather than this machine's.
if (values.node) process.env.BENCH_NODE = registryNode(values.node);
const serverNode = execFileSync(process.env.BENCH_NODE ?? process.execPath, ['-p', 'process.version'], {
  encoding: 'utf8',
}).trim();
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const LARGE = Number(values['large-mib'] ?? (quick ? 64 : 1024)) * 2 ** 20;
const SMALL_COUNT = Number(values['small-count'] ?? (quick ? 2000 : 12000));
const SECONDS = Number(values.seconds ?? (quick ? 2 : 10));
const SECTIONS = new Set((values.only ?? 'storage,gc,resumable,minting,verify').split(','));
const SYSTEMS = (values.systems?.split(',') ?? SYSTEM_NAMES) as SystemName[];
const WRITE =
  !quick && values['no-write'] !== true && values.only === undefined && values.systems === undefined;

/** The path of the npm registry's Node binary of one major (fetched once into npm's cache). */
function registryNode(major: string): string {
  return execFileSync('npx', ['-y', '-p', `node@${major}`, '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
  }).trim();
}

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-peers-'));
const signing = await importSigningKey(await generateSigningJwk());
const file = path.join(work, 'large.bin');
const lines: string[] = [];
const fmt = (n: number, digits = 0) => n.toFixed(digits);

if (['storage', 'gc', 'resumable'].some((s) => SECTIONS.has(s))) await patternFile(file, LARGE);
const common = { rounds: ROUNDS, large: LARGE, file, work, signing };
if (SECTIONS.has('storage')) {
  lines.push(...(await storageSection({ ...common, systems: SYSTEMS, smallCount: SMALL_COUNT })));
}
if (SECTIONS.has('gc')) lines.push(...(await gcSection({ ...common, uploads: quick ? 2 : 10 })));
if (SECTIONS.has('resumable')) lines.push(...(await resumableSection(common)));
if (SECTIONS.has('minting'))
  lines.push(...(await mintingSection({ rounds: ROUNDS, seconds: SECONDS, work })));

// ---- key checks ------------------------------------------------------------------------------
if (SECTIONS.has('verify')) {
  const count = quick ? 2000 : 10000;
  log(`key checks: ${ROUNDS} rounds of ${count} fresh keys`);
  const round = await verifyBench(count);
  const valet: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < Math.max(ROUNDS, 3); i++) {
    const r = await round(i);
    valet.push(r.valet);
    bare.push(r.bare);
    log(`  round ${i + 1}: valet ${fmt(r.valet)}/s, bare ${fmt(r.bare)}/s`);
  }
  const slower = median(bare) / median(valet);
  const verdict = noisy(valet) || noisy(bare) ? 'noisy: no verdict' : slower <= 1.2 ? 'met' : '**not met**';
  lines.push(
    '| key check: median (rounds) | Valet `verifyValetKey` | bare `crypto.verify`, cached KeyObject | time ratio | target |',
    '| --- | ---: | ---: | ---: | --- |',
    `| fresh valet keys checked per second | ${roundsCell(valet)} | ${roundsCell(bare)} | ${slower.toFixed(2)}x | ≤ 1.2x (${verdict}) |`,
    '',
  );
}

const cpus = os.cpus();
const header = `Run ${new Date().toISOString().slice(0, 10)} on ${cpus.length} × ${cpus[0]?.model.trim()}, servers on Node ${serverNode} (bench on ${process.version}), linux ${os.release()}; ${ROUNDS} rounds.`;
const text = [header, '', ...lines].join('\n').trimEnd();
process.stdout.write(`${text}\n`);
if (WRITE) log(`wrote ${await writeSection('peers-bench', text)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
