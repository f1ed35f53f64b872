// ClamAV's INSTREAM with Debian's clamd, started here with a signature file of one line (EICAR).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { EICAR, startClamd } from '../../../test/helpers/clamd.js';
import { freePort } from '../../../test/helpers/storage.js';
import { clamdTarget, scanStream, verdictOf } from './clamav.js';

describe('ClamAV (clamd INSTREAM)', () => {
  it('finds the EICAR file, also inside a larger stream, and passes clean bytes', async (t) => {
    const clamd = await startClamd(t);
    const options = { address: clamd.address };
    assert.deepEqual(await scanStream(Readable.from([EICAR]), options), {
      reject: 'ClamAV found Valet.Test.EICAR.UNOFFICIAL in it',
    });
    assert.deepEqual(await scanStream(Readable.from([randomBytes(300_000)]), options), { ok: true });
    // Many small chunks and one large: INSTREAM's framing either way.
    const pieces = [...EICAR].map((byte) => Buffer.from([byte]));
    assert.ok('reject' in (await scanStream(Readable.from(pieces), options)));
    assert.deepEqual(await scanStream(Readable.from([Buffer.alloc(0)]), options), { ok: true });
  });

  it('never says "clean" when clamd is down, dies mid-scan, or cannot take the size', async (t) => {
    const down = `127.0.0.1:${await freePort()}`;
    await assert.rejects(scanStream(Readable.from([EICAR]), { address: down }), /clamd at 127\.0\.0\.1:\d+/);

    const clamd = await startClamd(t);
    // A stream that keeps coming: clamd is killed while it reads.
    const endless = new Readable({
      read() {
        setTimeout(() => this.push(randomBytes(64 * 1024)), 5);
      },
    });
    const scanning = assert.rejects(scanStream(endless, { address: clamd.address }), /clamd/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await clamd.kill();
    await scanning;

    const small = await startClamd(t, { streamMaxLength: '1M' });
    await assert.rejects(
      scanStream(Readable.from([randomBytes(3 * 1024 * 1024)]), { address: small.address }),
      // Its answer, or (when it hangs up first) the cut: either way not scanned, and why.
      /(too large to scan|closed the connection before it answered).*StreamMaxLength/,
    );
  });

  it('speaks to clamd on a Unix socket as on TCP', async (t) => {
    const clamd = await startClamd(t, { socket: true });
    assert.ok(clamd.address.startsWith('/'), clamd.address);
    assert.ok('reject' in (await scanStream(Readable.from([EICAR]), { address: clamd.address })));
    assert.deepEqual(await scanStream(Readable.from([randomBytes(1000)]), { address: clamd.address }), {
      ok: true,
    });
  });

  it('reads addresses and answers exactly', () => {
    assert.deepEqual(clamdTarget('127.0.0.1:3310'), { host: '127.0.0.1', port: 3310 });
    assert.deepEqual(clamdTarget('[::1]:3310'), { host: '::1', port: 3310 });
    assert.deepEqual(clamdTarget('/run/clamav/clamd.ctl'), { path: '/run/clamav/clamd.ctl' });
    for (const bad of ['clamd', 'host:0', 'host:99999', 'relative/path', ':3310']) {
      assert.throws(() => clamdTarget(bad), /HOST:PORT or an absolute socket path/, bad);
    }
    assert.deepEqual(verdictOf('stream: OK', 'x'), { ok: true });
    assert.throws(() => verdictOf('stream: lstat() failed ERROR', 'x'), /could not scan/);
    assert.throws(() => verdictOf('', 'x'), /no answer/);
  });
});
