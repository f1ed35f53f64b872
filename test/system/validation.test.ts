// End-to-end: uploads validated before anyone may read them, on Valet storage, with Debian's
// clamd (started here with one signature: the EICAR test file's) and the true-type check.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { CompletedUpload } from '../../src/issuer/api.js';
import type { Rule } from '../../src/issuer/rules.js';
import type { ValidateHook } from '../../src/issuer/validation/validators.js';
import { type Clamd, EICAR, startClamd } from '../helpers/clamd.js';
import { tinyPng } from '../helpers/files.js';
import { gate } from '../helpers/gate.js';
import { OWNER_RULES, refusal, startSystem } from '../helpers/system.js';

async function validatedSystem(t: Parameters<typeof startSystem>[0], clamd: Clamd, first?: ValidateHook) {
  const heard: CompletedUpload[] = [];
  const upload: Rule = {
    ...OWNER_RULES.upload,
    op: 'put',
    validate: first ? [first, 'type', 'clamav'] : ['type', 'clamav'],
  };
  const system = await startSystem(t, {
    issuer: {
      rules: { ...OWNER_RULES, upload },
      validation: { clamd: clamd.address },
      onUploadComplete: (u) => void heard.push(u),
    },
  });
  return { ...system, heard };
}

describe('validate before publish (Valet storage, clamd)', () => {
  it('never lets anyone read the EICAR file, and removes it with ClamAV’s finding', async (t) => {
    const clamd = await startClamd(t);
    const held = gate();
    const s = await validatedSystem(t, clamd, held.hook);
    const alice = s.client('alice');
    const stored = await alice.upload(EICAR, {
      name: 'eicar.com',
      contentType: 'text/plain',
      awaitValidation: false,
    });
    assert.equal(stored.validation, 'pending');
    const object = stored.object;
    // Pending: no read key, no share link, hidden from everyone else, refused by storage itself.
    assert.equal(await refusal(alice.readUrl(object)), 'object_pending');
    assert.equal(await refusal(alice.share(object, { ttl: 60 })), 'object_pending');
    assert.deepEqual(
      (await alice.list()).map((o) => [o.object, o.validation]),
      [[object, 'pending']],
    );
    assert.deepEqual(await s.client('bob').list(), []);
    const handMade = await s.key.mint({ op: 'get', object });
    const direct = await fetch(`${s.storage.url}/o/${object}?vk=${handMade}`);
    assert.equal(direct.status, 409, 'storage refuses a hand-made key for a pending object');
    assert.equal(((await direct.json()) as { error: { code: string } }).error.code, 'object_pending');

    held.open();
    const verdict = await stored.verdict;
    assert.equal(verdict?.status, 'rejected');
    assert.match(verdict?.reason ?? '', /ClamAV found Valet\.Test\.EICAR.* \(virus scan\)/);
    const afterwards = await fetch((await alice.readUrl(object)).url);
    assert.equal(afterwards.status, 404, 'nothing to read: it is gone');
    const gone = await fetch(`${s.storage.url}/o/${object}?vk=${await s.key.mint({ op: 'get', object })}`);
    assert.equal(gone.status, 404, 'removed from storage');
    assert.deepEqual(await alice.list(), []);
    assert.deepEqual(
      s.heard.map((u) => [u.object, u.status]),
      [[object, 'rejected']],
      'the app hears the verdict',
    );
    // upload() awaiting the verdict rejects with it.
    const again = alice.upload(EICAR, { name: 'again.com', contentType: 'text/plain' });
    assert.equal(await refusal(again), 'content_rejected');
    await assert.rejects(again, /rejected and removed: ClamAV found/);
  });

  it('publishes a clean file and rejects HTML declared image/png', async (t) => {
    const clamd = await startClamd(t);
    const s = await validatedSystem(t, clamd);
    const alice = s.client('alice');
    const png = await alice.upload(tinyPng(), { name: 'cat.png', contentType: 'image/png' });
    assert.equal(png.validation, undefined, 'resolved once published');
    const read = await fetch((await alice.readUrl(png.object)).url);
    assert.deepEqual(Buffer.from(await read.arrayBuffer()), tinyPng());
    const states: string[] = [];
    const html = Buffer.from('<html><body><script>alert(1)</script></body></html>');
    const fake = alice.upload(html, {
      name: 'fake.png',
      contentType: 'image/png',
      onValidation: (state) => states.push(state.status),
    });
    assert.equal(await refusal(fake), 'content_rejected');
    await assert.rejects(fake, /its content is not image\/png.*\(type check\)/);
    assert.deepEqual(states, ['pending', 'rejected']);
    assert.deepEqual(
      (await alice.list()).map((o) => o.object),
      ['users/alice/cat.png'],
    );
  });

  it('keeps an upload pending when clamd dies mid-scan or is down, and publishes it once clamd is back', async (t) => {
    const clamd = await startClamd(t);
    const held = gate();
    const s = await validatedSystem(t, clamd, held.hook);
    const alice = s.client('alice');
    // 64 MiB of random bytes: clamd takes about a second over them.
    const body = randomBytes(64 * 2 ** 20);
    const stored = await alice.upload(body, { name: 'big.bin', awaitValidation: false, resumable: false });
    held.open();
    // The type check takes a moment; clamd is then reading the stream: it dies mid-scan.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await clamd.kill();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(await refusal(alice.readUrl(stored.object)), 'object_pending', 'never published unscanned');
    const waiting = await s.issuer.records.validations?.get(stored.grant.id);
    assert.equal(waiting?.status, 'pending');
    assert.ok((waiting?.attempts ?? 0) >= 1, 'it was tried, and will be again');
    assert.match(waiting?.lastError ?? '', /clamd at 127\.0\.0\.1:\d+/);
    const ready = (await (await fetch(`${s.served.url}/readyz`)).json()) as {
      checks: Record<string, { status: string; problem?: string }>;
    };
    assert.equal(ready.checks.validation?.status, 'degraded');
    assert.match(ready.checks.validation?.problem ?? '', /clamd at .* does not answer/);
    await clamd.restart();
    const verdict = await stored.verdict;
    assert.equal(verdict?.status, 'published');
    const read = await fetch((await alice.readUrl(stored.object)).url);
    assert.equal(Buffer.compare(Buffer.from(await read.arrayBuffer()), body), 0);
  });
});
