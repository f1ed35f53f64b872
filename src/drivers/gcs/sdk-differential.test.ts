// Valet's V4 signer against the official SDK's (@google-cloud/storage, signing offline with the
// conformance vectors' dummy service account: no network): for generated objects, methods,
// headers, query parameters and times, both sign the same request the same way, signature
// included, and POST policies alike. The SDK is a development dependency only.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Storage } from '@google-cloud/storage';
import fc from 'fast-check';
import { dummyAccount } from '../../../test/helpers/gcs-vectors.js';
import { type PolicyCondition, signPolicy } from './policy.js';
import { serviceAccountKey, signV4 } from './signer.js';

const account = dummyAccount();
const key = serviceAccountKey(account.client_email, account.private_key);
const sdk = new Storage({
  projectId: 'dummy-project-id',
  credentials: { client_email: account.client_email, private_key: account.private_key },
});

const RUNS = Number(process.env.FC_RUNS ?? 150);

/** The SDK reads the machine's clock: it is set to the generated time for each signature. */
async function at<T>(t: TestContext, now: number, run: () => Promise<T>): Promise<T> {
  t.mock.timers.enable({ apis: ['Date'], now });
  try {
    return await run();
  } finally {
    t.mock.timers.reset();
  }
}

/** A URL's origin and path as sent, and its query pairs as sent, sorted (the SDK keeps its own order). */
function parts(url: string) {
  const [base, query = ''] = url.split('?');
  return { base, query: query.split('&').sort() };
}

const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/'));
const objectName = fc
  .array(fc.oneof(segment, fc.constantFrom('a b', "it's (1)*!", 'ä/ö', '%2F', '~._-', '?#&=+')), {
    minLength: 1,
    maxLength: 4,
  })
  .map((segments) => segments.join('/'));
const time = fc.integer({ min: Date.parse('2001-01-01'), max: Date.parse('2099-12-31') });
const headerValue = fc
  .stringMatching(/^[ -~]{0,24}$/)
  .filter((v) => v.trim() !== '')
  .map((v) => v.replace(/\s+/g, ' '));
const headerName = fc.constantFrom(
  'Content-Type',
  'x-goog-content-length-range',
  'x-goog-if-generation-match',
  'X-Goog-Meta-Owner',
  'content-md5',
  'x-goog-custom-time',
);
const queryValue = fc.string({ unit: 'grapheme', maxLength: 20 });

describe("the V4 signer against the official SDK's offline signer", () => {
  it('signs every generated request as the SDK does', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        objectName,
        fc.constantFrom(['GET', 'read'], ['PUT', 'write'], ['DELETE', 'delete'], ['POST', 'resumable']),
        fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
        fc.dictionary(
          fc.constantFrom(
            'response-content-disposition',
            'response-content-type',
            'generation',
            'userProject',
          ),
          queryValue,
          { maxKeys: 2 },
        ),
        time,
        fc.integer({ min: 1, max: 604_800 }),
        async (object, [method, action], headers, query, now, expires) => {
          const ours = signV4(key, {
            method: method as string,
            bucket: 'valet-bucket',
            object,
            headers: action === 'resumable' ? { ...headers, 'x-goog-resumable': 'start' } : headers,
            query,
            now,
            expires,
          });
          const [theirs] = await at(t, now, () =>
            sdk
              .bucket('valet-bucket')
              .file(object)
              .getSignedUrl({
                version: 'v4',
                action: action as 'read',
                expires: now + expires * 1000,
                extensionHeaders: headers,
                queryParams: query,
              }),
          );
          assert.deepEqual(parts(ours.url), parts(theirs));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('signs every generated POST policy as the SDK does', async (t) => {
    const condition: fc.Arbitrary<PolicyCondition> = fc.oneof(
      fc
        .tuple(fc.nat({ max: 1000 }), fc.nat({ max: 10 ** 9 }))
        .map(([min, extra]) => ['content-length-range', min, min + extra] as PolicyCondition),
      fc
        .tuple(fc.constantFrom('starts-with', 'eq'), fc.constantFrom('$Content-Type', '$key'), queryValue)
        .map(([op, field, value]) => [op, field, value] as PolicyCondition),
    );
    await fc.assert(
      fc.asyncProperty(
        objectName,
        fc.array(condition, { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom('Content-Type', 'success_action_status', 'x-goog-meta-note'),
          queryValue,
          {
            maxKeys: 2,
          },
        ),
        time,
        fc.integer({ min: 1, max: 604_800 }),
        async (object, conditions, fields, now, expires) => {
          const ours = signPolicy(key, { bucket: 'valet-bucket', object, fields, conditions, now, expires });
          const [theirs] = await at(t, now, () =>
            sdk
              .bucket('valet-bucket')
              .file(object)
              .generateSignedPostPolicyV4({
                expires: now + expires * 1000,
                fields,
                conditions: structuredClone(conditions) as object[],
              }),
          );
          assert.equal(ours.url, theirs.url);
          assert.deepEqual(ours.fields, theirs.fields);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
