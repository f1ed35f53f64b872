import { GetBucketPolicyCommand, PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * A presigned upload that cannot become a copy.
 *
 * A presigned PUT signs the headers it lists; AWS S3 refuses a request that carries any other
 * `x-amz-*` header ("There were headers present in the request which were not signed"). Ceph RGW
 * takes them: an unsigned `x-amz-copy-source` turns a presigned upload into a CopyObject, run
 * with the issuer's credentials, so the holder of an upload key for one object could copy any
 * object of the bucket into it and read it (found on Ceph 16; RustFS had the same hole,
 * GHSA-g8w9-qw9q-fghr). A presigned part upload is not affected there (its signed length makes a
 * part copy fail). RGW does not know `s3:authType`, so the statement cannot single out presigned
 * requests: it refuses every server-side copy into the bucket. Valet never copies; an app that
 * copies within the same bucket must use another bucket, or not set this.
 */

/** The statement's id in the bucket policy (replaced, never duplicated). */
export const NO_COPIES_SID = 'ValetRefusesCopies';

interface Policy {
  Version?: string;
  Statement?: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

/**
 * Adds (or refreshes) the statement that refuses server-side copies into `bucket` to its bucket
 * policy, keeping every other statement as it was.
 */
export async function refuseCopies(client: S3Client, bucket: string): Promise<void> {
  let policy: Policy = { Version: '2012-10-17', Statement: [] };
  try {
    const found = await client.send(new GetBucketPolicyCommand({ Bucket: bucket }));
    if (found.Policy) policy = JSON.parse(found.Policy) as Policy;
  } catch (error) {
    const code = (error as { name?: string }).name;
    if (code !== 'NoSuchBucketPolicy') throw error;
  }
  const statements = (policy.Statement ?? []).filter((s) => s.Sid !== NO_COPIES_SID);
  statements.push({
    Sid: NO_COPIES_SID,
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:PutObject',
    Resource: `arn:aws:s3:::${bucket}/*`,
    Condition: { StringLike: { 's3:x-amz-copy-source': '*' } },
  });
  await client.send(
    new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ ...policy, Version: policy.Version ?? '2012-10-17', Statement: statements }),
    }),
  );
}
