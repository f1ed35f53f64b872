import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tinyPng } from '../../../test/helpers/files.js';
import { TRUE_TYPE_PREFIX, trueType } from './true-type.js';
import type { ValidatedObject } from './validators.js';

const PDF = Buffer.from(
  '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n',
);
const HTML = Buffer.from('<!doctype html><html><body><script>alert(document.cookie)</script></body></html>');
// A Windows executable's first bytes (the DOS header's MZ, and the PE header it points to).
const EXE = Buffer.concat([
  Buffer.from('MZ'),
  Buffer.alloc(58),
  Buffer.from([0x40, 0, 0, 0]),
  Buffer.from('PE\0\0'),
  Buffer.alloc(200),
]);

function objectOf(contentType: string, allowedTypes?: string[]): ValidatedObject {
  return {
    object: 'u/f',
    owner: 'alice',
    size: 1,
    contentType,
    etag: '"e"',
    sha256: null,
    rule: 'upload',
    ...(allowedTypes && { allowedTypes }),
  };
}

async function check(bytes: Buffer, contentType: string, allowedTypes?: string[]) {
  return trueType.check(objectOf(contentType, allowedTypes), async () => Readable.from([bytes]));
}

describe('the true-type validator', () => {
  it('passes bytes that are what they declare', async () => {
    assert.deepEqual(await check(tinyPng(), 'image/png'), { ok: true });
    assert.deepEqual(await check(PDF, 'application/pdf'), { ok: true });
    assert.deepEqual(await check(Buffer.from('plain words\n'), 'text/plain'), { ok: true });
    assert.deepEqual(await check(HTML, 'text/html; charset=utf-8'), { ok: true });
  });

  it('rejects HTML declared image/png, and any bytes that are another type than declared', async () => {
    assert.deepEqual(await check(HTML, 'image/png'), {
      reject: 'its content is not image/png: it does not begin the way every image/png file does',
    });
    assert.deepEqual(await check(tinyPng(), 'image/jpeg'), {
      reject: 'its content is image/png (a .png file), not image/jpeg as declared',
    });
    assert.deepEqual(await check(PDF, 'text/plain'), {
      reject: 'its content is application/pdf (a .pdf file), not text/plain as declared',
    });
    const exe = await check(EXE, 'text/plain');
    assert.ok('reject' in exe && /application\/x-msdownload/.test(exe.reject), JSON.stringify(exe));
  });

  it('holds "any bytes" (octet-stream) to the types the key allowed, and knows aliases', async () => {
    assert.deepEqual(await check(tinyPng(), 'application/octet-stream', ['image/*']), { ok: true });
    assert.deepEqual(await check(PDF, 'application/octet-stream', ['image/*']), {
      reject: 'its content is application/pdf (a .pdf file), which this upload may not be (image/*)',
    });
    assert.deepEqual(await check(tinyPng(), 'image/x-png'), { ok: true }, 'an alias of image/png');
  });

  it('reads only the first bytes of a large object', async () => {
    let served = 0;
    const endless = new Readable({
      read() {
        served += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024, 0x41));
      },
    });
    const verdict = await trueType.check(objectOf('text/plain'), async () => endless);
    assert.deepEqual(verdict, { ok: true });
    assert.ok(served <= TRUE_TYPE_PREFIX + 64 * 1024, `read ${served} bytes`);
    assert.ok(endless.destroyed, 'the stream is stopped');
  });
});
