// Operations, end to end (npm run test:ops): a 2 GiB upload scanned by Debian's clamd in bounded
// memory, with the process doing it (valet dev: issuer and storage) killed mid-scan: after the
// restart the validation runs again and publishes the object, which was never readable before.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { openFile } from '../../src/client/node.js';
import { startClamd } from '../helpers/clamd.js';
import { bigFile } from '../helpers/files.js';
import { type RunningProcess, startValet } from '../helpers/storage.js';
import { refusal } from '../helpers/system.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** The most memory (resident, at its peak) the process that scans 2 GiB may use. */
const MEMORY_BOUND = 512 * MiB;

/** A process's peak resident memory (VmHWM), bytes. */
async function peakMemory(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  return Number(kib) * 1024;
}

interface DevReady {
  issuer: string;
  users: Record<string, string>;
}

describe('validating a 2 GiB upload', () => {
  it('scans it in bounded memory, and finishes the scan its process died in', {
    timeout: 900_000,
  }, async (t) => {
    const clamd = await startClamd(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-validate-ops-'));
    const data = path.join(dir, 'data');
    const file = path.join(dir, 'big.bin');
    const sha256 = await bigFile(file, 2 * GiB);
    const dev = () =>
      startValet(
        ['dev', '--port', '0', '--data', data, '--json', '--clamd', clamd.address, '--log-level', 'info'],
        /^(\{.*\})$/m,
        t,
      );
    const first = await dev();
    const ready = JSON.parse(first.url) as DevReady;
    const alice = (r: DevReady) => createClient({ issuer: r.issuer, getToken: () => r.users.alice });
    const stored = await alice(ready).upload(await openFile(file), {
      name: 'big.bin',
      sha256,
      awaitValidation: false,
    });
    assert.equal(stored.validation, 'pending');
    // The scan starts at once (the issuer that records an upload claims it); 2 GiB take longer.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await first.stop('SIGKILL');
    assert.equal(await clamd.scans(), 0, 'killed before clamd finished');

    const second: RunningProcess = await dev();
    const again = JSON.parse(second.url) as DevReady;
    assert.equal(await refusal(alice(again).readUrl(stored.object)), 'object_pending', 'still unreadable');
    // The dead process's lease lapses (30 s), then this one claims the validation and scans.
    let state = { status: 'pending' };
    for (let i = 0; i < 20 && state.status === 'pending'; i++) {
      const answer = await fetch(`${again.issuer}/v1/keys/${stored.grant.id}/validation?wait=25`, {
        headers: { authorization: `Bearer ${again.users.alice}` },
      });
      state = (await answer.json()) as { status: string };
    }
    assert.equal(state.status, 'published');
    assert.equal(await clamd.scans(), 1, 'scanned whole once, by the restarted process');
    const peak = await peakMemory(second.proc.pid as number);
    t.diagnostic(`peak resident memory of the process that scanned 2 GiB: ${Math.round(peak / MiB)} MiB`);
    assert.ok(peak < MEMORY_BOUND, `${Math.round(peak / MiB)} MiB at its peak`);

    const download = await alice(again).download(stored.object);
    const hash = createHash('sha256');
    for await (const chunk of download.body) hash.update(chunk);
    assert.equal(hash.digest('hex'), sha256, 'published as uploaded');
  });
});
