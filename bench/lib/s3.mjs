// S3 mode of the bench: both registries keep their blobs on the same S3 server (the test Ceph RGW, or
// any endpoint), each in a bucket of its own created for the run and deleted at the end.
// Settings come from NITRO_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY / _REGION (scripts/ci/setup-scaleout.sh).
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export function s3EnvOrThrow(env = process.env) {
  const endpoint = env.NITRO_TEST_S3_ENDPOINT;
  const accessKey = env.NITRO_TEST_S3_ACCESS_KEY;
  const secretKey = env.NITRO_TEST_S3_SECRET_KEY;
  if (!endpoint || !accessKey || !secretKey) {
    throw new Error('--storage s3 needs NITRO_TEST_S3_ENDPOINT, NITRO_TEST_S3_ACCESS_KEY, NITRO_TEST_S3_SECRET_KEY (set -a; . DIR/env; set +a)');
  }
  return { endpoint, accessKey, secretKey, region: env.NITRO_TEST_S3_REGION || 'us-east-1' };
}

function client(s) {
  return new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    credentials: { accessKeyId: s.accessKey, secretAccessKey: s.secretKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Creates an empty bucket for one target; returns the S3 settings with `bucket` and a `remove()`. */
export async function createBenchBucket(s, label) {
  const bucket = `bench-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  const c = client(s);
  await c.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    ...s,
    bucket,
    async remove() {
      try {
        for (let token; ; ) {
          const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
          const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key }));
          if (keys.length) await c.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
          if (!page.IsTruncated) break;
          token = page.NextContinuationToken;
        }
        const mpu = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        for (const u of mpu.Uploads ?? []) await c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        await c.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        c.destroy();
      }
    },
  };
}
