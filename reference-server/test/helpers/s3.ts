/**
 * A fresh S3 bucket per test on the test S3 server (Ceph RGW from scripts/ci/setup-scaleout.sh; any
 * S3-compatible endpoint in NITRO_TEST_S3_* works). At teardown every object, every unfinished multipart
 * upload and the bucket are deleted.
 *
 * Declare the test with `{ skip: scaleoutSkip('s3') }` (see scaleout-env.ts).
 *
 * Client settings every S3 client in this project needs against RGW (docs/scaleout-testing.md):
 *  - checksums WHEN_REQUIRED: AWS SDK v3 ≥ 3.729 otherwise sends streamed bodies aws-chunked with CRC32
 *    trailers, which Ceph 16 answers with 411 MissingContentLength;
 *  - path-style addressing: no DNS name is configured for virtual-hosted buckets.
 * AWS_CA_BUNDLE (exported on these machines) is not read by the JS SDK v3, unlike the Go SDK in CNCF
 * Distribution, which panics at start with it; nothing to neutralise here.
 */
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
import { s3Env } from './scaleout-env.js';
import type { TeardownHost } from './registry.js';

/** What a test (or a server's `storage.s3` config) needs to reach its bucket. */
export interface S3Bucket {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: true;
}

/** An SDK client for the bucket's server, with the settings RGW needs (see above). */
export function s3Client(target: Omit<S3Bucket, 'bucket'>): S3Client {
  return new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    forcePathStyle: target.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The server's `storage.s3` config section for a bucket (snake_case keys, as in the config file). */
export function storageS3Config(b: S3Bucket, more: { redirect?: boolean } = {}): Record<string, unknown> {
  return {
    endpoint: b.endpoint,
    bucket: b.bucket,
    region: b.region,
    access_key_id: b.accessKeyId,
    secret_access_key: b.secretAccessKey,
    force_path_style: b.forcePathStyle,
    redirect: more.redirect ?? false,
  };
}

let made = 0;

/** Creates an empty bucket, deleted with its contents when `t` ends. */
export async function s3Bucket(t: TeardownHost): Promise<S3Bucket> {
  const env = s3Env();
  const target: S3Bucket = {
    ...env,
    // lowercase, digits and '-', at most 63 characters
    bucket: `nitro-t-${process.pid}-${++made}-${randomBytes(3).toString('hex')}`,
    forcePathStyle: true,
  };
  const client = s3Client(target);
  try {
    await client.send(new CreateBucketCommand({ Bucket: target.bucket }));
  } catch (e) {
    client.destroy();
    throw new Error(`creating bucket ${target.bucket} on ${target.endpoint}: ${(e as Error).message}`, { cause: e });
  }
  t.teardown(async () => {
    try {
      await emptyAndDeleteBucket(client, target.bucket);
    } finally {
      client.destroy();
    }
  });
  return target;
}

/** Deletes every object and unfinished multipart upload of a bucket, then the bucket. */
export async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (let token: string | undefined; ; ) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
    if (keys.length > 0) {
      const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
      if (res.Errors?.length) throw new Error(`deleting objects of ${bucket}: ${JSON.stringify(res.Errors.slice(0, 3))}`);
    }
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  for (let keyMarker: string | undefined, idMarker: string | undefined; ; ) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
    for (const u of page.Uploads ?? []) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    idMarker = page.NextUploadIdMarker;
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}
