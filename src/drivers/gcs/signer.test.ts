// Google's own V4 signing conformance vectors (googleapis/conformance-tests storage/v1, as Debian's
// golang-google-cloud-dev ships them): every one reproduces byte for byte, URL, canonical request
// and string to sign, signed with the dummy service account they were made with.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { dummyAccount, type SigningVector, signingVectors } from '../../../test/helpers/gcs-vectors.js';
import { ValetError } from '../../token/errors.js';
import {
  canonicalPath,
  encodeStrict,
  type HmacKey,
  serviceAccountKey,
  signV4,
  type V4Signed,
} from './signer.js';

const account = dummyAccount();
const key = serviceAccountKey(account.client_email, account.private_key);
const vectors = signingVectors();

/**
 * Two vectors of Debian's copy (golang-google-cloud-dev 0.56) carry a canonical request that does
 * not hash to their own string to sign, fixed upstream since: each is checked for exactly what it
 * got wrong (their URL, with its signature over the right canonical request, is checked above).
 */
const ERRATA: Record<string, (signed: V4Signed, v: SigningVector) => void> = {
  // The two fields are swapped.
  'Simple GET': (signed, v) => {
    assert.equal(signed.canonicalRequest, v.expectedStringToSign);
    assert.equal(signed.stringToSign, v.expectedCanonicalRequest);
  },
  // The blank line that ends the canonical headers is missing from the canonical request.
  'Vary expiration and timestamp': (signed, v) => {
    assert.equal(
      signed.canonicalRequest,
      v.expectedCanonicalRequest?.replace('.com\nhost\n', '.com\n\nhost\n'),
    );
    assert.equal(signed.stringToSign, v.expectedStringToSign);
  },
};

/** Whether a vector's canonical request hashes to the one its string to sign names. */
function consistent(canonicalRequest?: string, stringToSign?: string): boolean {
  if (canonicalRequest === undefined || stringToSign === undefined) return true;
  return stringToSign.endsWith(`\n${createHash('sha256').update(canonicalRequest).digest('hex')}`);
}

describe("Google's V4 signing conformance vectors", () => {
  it('are all here, path-style over https (the form Valet signs)', () => {
    assert.ok(vectors.length >= 16, `${vectors.length} vectors`);
    for (const v of vectors) {
      // Virtual-hosted and bucket-bound-domain URLs are not what Valet signs: none in this copy.
      assert.equal(v.urlStyle ?? 'PATH_STYLE', 'PATH_STYLE', v.description);
      assert.equal(v.scheme ?? 'https', 'https', v.description);
    }
  });

  for (const v of vectors) {
    it(`reproduces "${v.description}" byte for byte`, () => {
      const signed = signV4(key, {
        method: v.method,
        bucket: v.bucket,
        ...(v.object !== undefined && { object: v.object }),
        ...(v.headers && { headers: v.headers }),
        ...(v.queryParameters && { query: v.queryParameters }),
        now: Date.parse(v.timestamp),
        expires: Number(v.expiration),
      });
      assert.equal(signed.url, v.expectedUrl);
      const { expectedCanonicalRequest: canonical, expectedStringToSign: toSign } = v;
      const erratum = ERRATA[v.description];
      if (erratum === undefined) {
        assert.ok(
          consistent(canonical, toSign),
          `"${v.description}" is not self-consistent: name its erratum`,
        );
        if (canonical !== undefined) assert.equal(signed.canonicalRequest, canonical);
        if (toSign !== undefined) assert.equal(signed.stringToSign, toSign);
      } else {
        assert.ok(!consistent(canonical, toSign), `"${v.description}" is fixed: drop its erratum`);
        erratum(signed, v);
      }
    });
  }
});

describe('the V4 signer', () => {
  const base = {
    method: 'GET',
    bucket: 'b',
    object: 'o',
    now: Date.parse('2026-12-07T00:00:00Z'),
    expires: 60,
  };

  it('encodes every byte of a name but the unreserved ones and the slashes', () => {
    assert.equal(encodeStrict("a b!'()*~é"), 'a%20b%21%27%28%29%2A~%C3%A9');
    assert.equal(canonicalPath('bkt', 'dir/ä x/(1).txt'), '/bkt/dir/%C3%A4%20x/%281%29.txt');
  });

  it('refuses a lifetime Google refuses (over seven days, or none)', () => {
    for (const expires of [0, 604_801, 1.5]) {
      assert.throws(
        () => signV4(key, { ...base, expires }),
        (e) => e instanceof ValetError && e.code === 'invalid_options' && /7 days/.test(e.message),
      );
    }
    assert.doesNotThrow(() => signV4(key, { ...base, expires: 604_800 }));
  });

  it('signs with an HMAC key: the same canonical request, GOOG4-HMAC-SHA256 and the derived key', () => {
    const hmac: HmacKey = {
      kind: 'hmac',
      accessId: 'GOOGTS7C7FUP3AIRVJTE2BCD',
      secret: 'bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ',
    };
    const signed = signV4(hmac, { ...base, headers: { 'Content-Type': 'text/plain' } });
    const url = new URL(signed.url);
    assert.equal(url.searchParams.get('X-Goog-Algorithm'), 'GOOG4-HMAC-SHA256');
    assert.equal(
      url.searchParams.get('X-Goog-Credential'),
      `${hmac.accessId}/20261207/auto/storage/goog4_request`,
    );
    assert.equal(url.searchParams.get('X-Goog-SignedHeaders'), 'content-type;host');
    // The canonical request is the RSA one's but for the algorithm named in it.
    const rsa = signV4(key, { ...base, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(
      signed.canonicalRequest,
      rsa.canonicalRequest
        .replace('GOOG4-RSA-SHA256', 'GOOG4-HMAC-SHA256')
        .replace(encodeURIComponent(account.client_email), hmac.accessId),
    );
    // Google's documented derivation: HMAC chains from "GOOG4" + secret over date, region, service, terminator.
    const mac = (k: Buffer | string, data: string) => createHmac('sha256', k).update(data).digest();
    const signingKey = mac(
      mac(mac(mac(`GOOG4${hmac.secret}`, '20261207'), 'auto'), 'storage'),
      'goog4_request',
    );
    assert.equal(
      signed.signature,
      createHmac('sha256', signingKey).update(signed.stringToSign).digest('hex'),
    );
    assert.match(
      signed.stringToSign,
      new RegExp(
        `^GOOG4-HMAC-SHA256\n20261207T000000Z\n20261207/auto/storage/goog4_request\n${createHash('sha256').update(signed.canonicalRequest).digest('hex')}$`,
      ),
    );
  });

  it('signs for another endpoint (an emulator or a private one) with its host', () => {
    const signed = signV4(key, { ...base, endpoint: 'http://127.0.0.1:4443' });
    assert.ok(signed.url.startsWith('http://127.0.0.1:4443/b/o?'));
    assert.match(signed.canonicalRequest, /\nhost:127\.0\.0\.1:4443\n/);
  });

  it('refuses a key that is not a service account RSA key', () => {
    assert.throws(() => serviceAccountKey('x@y', 'not a key'), /not a PEM private key/);
    assert.throws(() => serviceAccountKey('nobody', account.private_key), /client_email/);
  });
});
