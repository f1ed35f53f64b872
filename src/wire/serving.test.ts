import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentDisposition, defaultFilename, isInlineType } from './serving.js';

describe('download headers', () => {
  it('serves only raster images, audio, video and PDF inline by default', () => {
    for (const t of [
      'image/png',
      'image/jpeg',
      'IMAGE/GIF',
      'image/webp',
      'video/mp4',
      'audio/mpeg',
      'application/pdf',
    ]) {
      assert.ok(isInlineType(t), t);
    }
    for (const t of [
      'text/html',
      'image/svg+xml',
      'application/xhtml+xml',
      'text/plain',
      'application/javascript',
      'application/octet-stream',
      'text/xml',
    ]) {
      assert.ok(!isInlineType(t), t);
    }
  });

  it('quotes plain ASCII names as they are', () => {
    assert.equal(
      contentDisposition('attachment', 'report 2024.pdf'),
      'attachment; filename="report 2024.pdf"',
    );
  });

  it('gives an ASCII fallback and an RFC 5987 UTF-8 name for anything else', () => {
    assert.equal(
      contentDisposition('inline', 'Café crème.jpg'),
      `inline; filename="Caf_ cr_me.jpg"; filename*=UTF-8''Caf%C3%A9%20cr%C3%A8me.jpg`,
    );
    assert.equal(
      contentDisposition('attachment', 'a"b\\c%d\'(e)*.txt'),
      `attachment; filename="a_b_c_d'(e)*.txt"; filename*=UTF-8''a%22b%5Cc%25d%27%28e%29%2A.txt`,
    );
    // Never a URIError, whatever the name holds (keys refuse unpaired surrogates; this still answers).
    assert.equal(
      contentDisposition('attachment', 'a\ud800b.pdf'),
      `attachment; filename="a_b.pdf"; filename*=UTF-8''a%EF%BF%BDb.pdf`,
    );
    assert.equal(
      contentDisposition('attachment', '😀.png'),
      `attachment; filename="_.png"; filename*=UTF-8''%F0%9F%98%80.png`,
    );
  });

  it('names a download after the last segment of its key', () => {
    assert.equal(defaultFilename('users/alice/cat.png'), 'cat.png');
    assert.equal(defaultFilename('single'), 'single');
  });
});
