/**
 * The S3 BlobStore on a real S3 server (Ceph RGW in CI; any endpoint in NITRO_TEST_S3_*): the driver
 * contract, exactly as fs-blob-store.test.ts runs it, plus what is specific to S3 — multipart part
 * boundaries, sessions moving between store instances, multipart cleanup, config errors.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3BlobStore, parseS3Config } from '../src/storage/s3-blob-store.js';
import { ConfigError } from '../src/config.js';
import type { BlobStore, UploadState } from '../src/storage/blob-store.js';
import { blobStoreContract } from './blob-store-contract.js';
import { s3Bucket, storageS3Config, type S3Bucket } from './helpers/s3.js';
import { scaleoutSkip } from './helpers/scaleout-env.js';
import type { TeardownHost } from './helpers/registry.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer, alg: 'sha256' | 'sha512' = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;

function storeOn(bucket: S3Bucket, more: Record<string, unknown> = {}, opts: ConstructorParameters<typeof S3BlobStore>[1] = {}): S3BlobStore {
  return new S3BlobStore(parseS3Config({ ...storageS3Config(bucket), ...more }), opts);
}

async function freshStore(t: TeardownHost, more: Record<string, unknown> = {}) {
  const bucket = await s3Bucket(t);
  const store = storeOn(bucket, more);
  await store.init();
  return {
    bucket,
    store,
    replica: async () => {
      const other = storeOn(bucket, more);
      await other.init();
      return other;
    },
    cleanup: async () => store.close(),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const persisted = (s: UploadState): UploadState => JSON.parse(JSON.stringify(s)) as UploadState;

async function multipartUploads(store: S3BlobStore): Promise<number> {
  const res = await store.client.send(new ListMultipartUploadsCommand({ Bucket: store.settings.bucket }));
  return (res.Uploads ?? []).length;
}

async function keys(store: S3BlobStore, prefix = ''): Promise<string[]> {
  const res = await store.client.send(new ListObjectsV2Command({ Bucket: store.settings.bucket, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

const s3 = { skip: scaleoutSkip('s3') };

t.test('contract', s3, async (t) => {
  // A fresh bucket per subtest: the contract's "empty store" assumptions hold.
  blobStoreContract(t, async () => {
    const holder: (() => unknown)[] = [];
    const h = await freshStore({ teardown: (fn) => holder.push(fn) });
    return {
      store: h.store,
      replica: h.replica,
      cleanup: async () => {
        await h.cleanup();
        for (const fn of holder.reverse()) await fn();
      },
    };
  });
});

t.test('contract, under a key prefix, with the smallest part size', s3, async (t) => {
  blobStoreContract(t, async () => {
    const holder: (() => unknown)[] = [];
    const h = await freshStore({ teardown: (fn) => holder.push(fn) }, { prefix: 'tenant-a/registry', part_size: 5 * MiB });
    return {
      store: h.store,
      replica: h.replica,
      cleanup: async () => {
        await h.cleanup();
        for (const fn of holder.reverse()) await fn();
      },
    };
  });
});
