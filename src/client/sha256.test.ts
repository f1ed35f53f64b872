import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultDigest } from './blob.js';
import { Sha256 } from './sha256.js';
import type { BlobLike } from './types.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('SHA-256 in chunks', () => {
  it('gives the FIPS 180-4 example digests', () => {
    assert.equal(new Sha256().hex(), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(
      new Sha256().update(text('abc')).hex(),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    assert.equal(
      new Sha256().update(text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).hex(),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    const million = new Sha256();
    for (let i = 0; i < 1000; i++) million.update(text('a'.repeat(1000)));
    assert.equal(million.hex(), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('agrees with node:crypto for every length around the block and padding edges', () => {
    for (let n = 0; n <= 200; n++) {
      const data = randomBytes(n);
      assert.equal(new Sha256().update(data).hex(), createHash('sha256').update(data).digest('hex'), `${n}`);
    }
  });

  it('gives the same digest however the message is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(2000), { maxLength: 8 }),
        (data, cuts) => {
          const hash = new Sha256();
          let at = 0;
          for (const cut of [...cuts].sort((a, b) => a - b)) {
            const end = Math.min(cut, data.length);
            if (end < at) continue;
            hash.update(data.subarray(at, end));
            at = end;
          }
          hash.update(data.subarray(at));
          return hash.hex() === createHash('sha256').update(data).digest('hex');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses to be used after it is finished', () => {
    const hash = new Sha256();
    hash.hex();
    assert.throws(() => hash.update(text('x')), /already finished/);
  });
});

describe('the default digest of an upload', () => {
  /** A Blob-like of `size` zero bytes, streamed in 1 MiB chunks, never whole in memory. */
  function zeros(size: number): BlobLike {
    return {
      size,
      type: '',
      slice: () => {
        throw new Error('not needed');
      },
      stream() {
        let left = size;
        return new ReadableStream<Uint8Array>({
          pull(controller) {
            if (left === 0) return controller.close();
            const n = Math.min(left, 2 ** 20);
            left -= n;
            controller.enqueue(new Uint8Array(n));
          },
        });
      },
    };
  }

  it('hashes a Blob past the old 512 MiB limit, in constant memory, as node:crypto does', async () => {
    const size = 513 * 2 ** 20;
    const expected = createHash('sha256');
    const chunk = Buffer.alloc(2 ** 20);
    for (let i = 0; i < 513; i++) expected.update(chunk);
    assert.equal(await defaultDigest(zeros(size)), expected.digest('hex'));
  });

  it('hashes a small Blob whole with WebCrypto, to the same digest', async () => {
    const data = randomBytes(1000);
    assert.equal(await defaultDigest(new Blob([data])), createHash('sha256').update(data).digest('hex'));
  });
});
