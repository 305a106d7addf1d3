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

// Real S3 round trips on a shared machine: more than the default per-file timeout.
t.setTimeout(900_000);

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

/** A body in pieces of at most `piece` bytes. */
const body = (data: Buffer, piece = 256 * 1024) => Readable.from((function* () {
  for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
})());

/** Makes the stored state's hash unrestorable, as if written by another process (see upload.ts). */
async function forgetHash(store: S3BlobStore, id: string, size: number): Promise<void> {
  const key = store.keys.state(id, size);
  const st = JSON.parse((await store.getBytes(key)).toString()) as Record<string, unknown>;
  st.hash = 'state-saved-by-another-process';
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await store.client.send(new PutObjectCommand({ Bucket: store.settings.bucket, Key: key, Body: JSON.stringify(st) }));
}

t.test('a chunked upload whose appends alternate between two instances, hash not restorable on either', s3, async (t) => {
  const { store, replica } = await freshStore(t, { part_size: 5 * MiB });
  const other = await replica();
  t.teardown(() => other.close());
  t.teardown(() => store.close());
  const chunks = [randomBytes(1), randomBytes(4 * MiB), randomBytes(5 * MiB), randomBytes(7 * MiB), randomBytes(3), randomBytes(6 * MiB + 11)];
  const data = Buffer.concat(chunks);
  const id = 'alternating-0001';
  let state = persisted((await store.startUpload(id)).state());
  for (const [i, c] of chunks.entries()) {
    const up = await (i % 2 ? other : store).resumeUpload(id, state);
    t.equal(up.size, state.size, `chunk ${i} resumes at ${state.size}`);
    await up.append(body(c), { length: c.length });
    state = persisted(up.state());
    await forgetHash(store, id, state.size);
  }
  t.equal(state.size, data.length);
  t.equal(await multipartUploads(store), 1, 'one multipart upload carried across instances');
  const last = await other.resumeUpload(id, state);
  t.same(await last.commit(sha(data)), { digest: sha(data), size: data.length }, 'verified by reading the parts back');
  const opened = await store.open(sha(data));
  t.ok((await collect(opened!.stream)).equals(data), 'the blob is every chunk in order');
  t.equal(await multipartUploads(store), 0, 'the multipart upload was completed');
  t.same(await keys(store, 'uploads/'), [], 'no session objects left');

  // The same read-back catches a wrong digest before anything is published.
  const up = await store.startUpload('alternating-0002');
  await up.append(body(randomBytes(6 * MiB)));
  const st = persisted(up.state());
  await forgetHash(store, 'alternating-0002', st.size);
  const resumed = await other.resumeUpload('alternating-0002', st);
  await t.rejects(resumed.commit(sha(Buffer.from('other'))), { code: 'DIGEST_INVALID' });
  t.equal(await store.stat(sha(Buffer.from('other'))), null, 'nothing published');
  t.equal(await multipartUploads(store), 0, 'the multipart upload was aborted');
  t.same(await keys(store, 'uploads/'), []);
});

t.test('part boundaries: appends of 1 byte, 4 MiB, 5 MiB and 7 MiB, in every order that matters', s3, async (t) => {
  const { store } = await freshStore(t, { part_size: 5 * MiB });
  t.teardown(() => store.close());
  const sizes = [
    [1],
    [4 * MiB],
    [5 * MiB],
    [7 * MiB],
    [1, 4 * MiB, 5 * MiB, 7 * MiB],
    [7 * MiB, 5 * MiB, 4 * MiB, 1],
    [5 * MiB - 1, 1, 1],
    [4 * MiB, 4 * MiB, 1],
  ];
  for (const seq of sizes) {
    const chunks = seq.map((n) => randomBytes(n));
    const data = Buffer.concat(chunks);
    const up = await store.startUpload(`bounds-${randomBytes(4).toString('hex')}`);
    for (const c of chunks) await up.append(body(c, 1024 * 1024 + 7), { length: c.length });
    await up.commit(sha(data));
    const opened = await store.open(sha(data));
    t.ok((await collect(opened!.stream)).equals(data), `chunks ${seq.join(', ')}`);
    const mid = Math.floor(data.length / 2);
    const ranged = await store.open(sha(data), { start: mid, end: data.length - 1 });
    t.ok((await collect(ranged!.stream)).equals(data.subarray(mid)), 'ranged read across parts');
  }
  t.equal(await multipartUploads(store), 0);
});

t.test('abandoned multipart uploads: cancel, deleteUpload by id, and sessions with no state object', s3, async (t) => {
  const { store } = await freshStore(t, { part_size: 5 * MiB });
  t.teardown(() => store.close());
  const a = await store.startUpload('abandoned-a1');
  await a.append(body(randomBytes(6 * MiB)));
  t.equal(await multipartUploads(store), 1);
  await a.cancel();
  t.equal(await multipartUploads(store), 0, 'cancel aborts the multipart upload');
  t.same(await keys(store, 'uploads/'), [], 'and deletes the state and tail');

  // A crash between CreateMultipartUpload and the first state: listUploads still finds it, by id.
  const { CreateMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  await store.client.send(new CreateMultipartUploadCommand({ Bucket: store.settings.bucket, Key: store.keys.data('abandoned-b1') }));
  const b = await store.startUpload('abandoned-b2');
  await b.append(body(randomBytes(11 * MiB)));
  const ids: string[] = [];
  for await (const u of store.listUploads()) ids.push(u.id);
  t.same(ids.sort(), ['abandoned-b1', 'abandoned-b2'], 'sessions with objects and multipart-only sessions are listed');
  for (const id of ids) await store.deleteUpload(id); // what GC does for sessions whose record is gone
  t.equal(await multipartUploads(store), 0);
  t.same(await keys(store), []);
  const after: string[] = [];
  for await (const u of store.listUploads()) after.push(u.id);
  t.same(after, []);
});

t.test('blobs above the single-copy limit are copied part by part; sha512 is verified by reading back', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const store = storeOn(bucket, { part_size: 5 * MiB }, { maxCopySize: 6 * MiB, copyPartSize: 5 * MiB });
  t.teardown(() => store.close());
  const data = randomBytes(13 * MiB + 3);
  for (const alg of ['sha256', 'sha512'] as const) {
    const up = await store.startUpload(`copy-${alg}-1`);
    await up.append(body(data));
    await up.commit(sha(data, alg));
    const opened = await store.open(sha(data, alg));
    t.ok((await collect(opened!.stream)).equals(data), `${alg}: read back whole`);
  }
  t.equal(await multipartUploads(store), 0);
});

t.test('redirect: a presigned GET that serves the bytes and honours Range; off by default', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const plain = storeOn(bucket);
  const redirecting = storeOn(bucket, { redirect: true, redirect_expiry_seconds: 60 });
  t.teardown(() => plain.close());
  t.teardown(() => redirecting.close());
  const data = randomBytes(100_000);
  const up = await plain.startUpload('redirect-0001');
  await up.append(body(data));
  await up.commit(sha(data));
  t.equal(await plain.redirectUrl(sha(data)), null, 'no redirect unless configured');
  const url = await redirecting.redirectUrl(sha(data));
  t.match(url, /X-Amz-Signature=/);
  t.match(url, /X-Amz-Expires=60/);
  t.notMatch(url!, new RegExp(bucket.secretAccessKey), 'the secret is not in the URL');
  const whole = await fetch(url!);
  t.equal(whole.status, 200);
  t.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
  const part = await fetch(url!, { headers: { Range: 'bytes=1000-1999' } });
  t.equal(part.status, 206);
  t.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000)));
});

t.test('open honours its AbortSignal while the body streams', s3, async (t) => {
  const { store } = await freshStore(t);
  t.teardown(() => store.close());
  const data = randomBytes(12 * MiB);
  const up = await store.startUpload('abort-read-1');
  await up.append(body(data));
  await up.commit(sha(data));
  const ac = new AbortController();
  const opened = await store.open(sha(data), undefined, ac.signal);
  let got = 0;
  const err = await (async () => {
    for await (const c of opened!.stream) {
      got += (c as Buffer).length;
      if (got > 0) ac.abort(new Error('client went away'));
    }
  })().catch((e: unknown) => e);
  t.ok(err instanceof Error, 'the stream ends with an error');
  t.ok(got < data.length, 'before the whole blob was read');
  t.ok(opened!.stream.destroyed);
});

t.test('credentials from the standard AWS_* environment when none are configured', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = bucket.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = bucket.secretAccessKey;
  t.teardown(() => {
    for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const store = new S3BlobStore(parseS3Config({ endpoint: bucket.endpoint, bucket: bucket.bucket, force_path_style: true }));
  t.teardown(() => store.close());
  await store.init();
  await t.resolves(store.check(), 'signed with the environment credentials');
});

t.test('a missing bucket is a ConfigError naming storage.s3.bucket', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const store = storeOn(bucket, { bucket: `${bucket.bucket}-missing` });
  t.teardown(() => store.close());
  await t.rejects(store.init(), { name: 'ConfigError', message: /storage\.s3\.bucket/ });
});

t.test('config: every bad or missing setting is a ConfigError naming it, never echoing a secret', async (t) => {
  const ok = { bucket: 'registry', endpoint: 'http://127.0.0.1:9000' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /storage\.s3\.bucket is required/],
    [{ bucket: 'Not_A_Bucket' }, /storage\.s3\.bucket/],
    [{ ...ok, endpoint: 'not a url' }, /storage\.s3\.endpoint/],
    [{ ...ok, endpoint: 'ftp://x' }, /storage\.s3\.endpoint/],
    [{ ...ok, endpoint: 'http://AKIA:topsecret@host:9000' }, /storage\.s3\.endpoint must not carry credentials/],
    [{ ...ok, access_key_id: 'AKIA' }, /storage\.s3\.secret_access_key/],
    [{ ...ok, secret_access_key: 'topsecret' }, /storage\.s3\.access_key_id/],
    [{ ...ok, force_path_style: 'maybe' }, /storage\.s3\.force_path_style/],
    [{ ...ok, redirect: 3 }, /storage\.s3\.redirect/],
    [{ ...ok, part_size: 1024 }, /storage\.s3\.part_size/],
    [{ ...ok, redirect_expiry_seconds: 0 }, /storage\.s3\.redirect_expiry_seconds/],
    [{ ...ok, prefix: 'a/../b' }, /storage\.s3\.prefix/],
    [{ ...ok, secret_key: 'topsecret' }, /storage\.s3\.secret_key: unknown setting/],
  ];
  for (const [raw, re] of cases) {
    const e = (() => {
      try {
        parseS3Config(raw, {});
        return null;
      } catch (err) {
        return err as Error;
      }
    })();
    t.ok(e instanceof ConfigError, `${JSON.stringify(raw)} is refused`);
    t.match(e?.message, re);
    t.notMatch(e?.message ?? '', /topsecret/, 'no secret in the message');
  }
  const s = parseS3Config({ ...ok, prefix: '/reg', part_size: '6291456', redirect: 'true', force_path_style: true }, {});
  t.same(
    { prefix: s.prefix, partSize: s.partSize, redirect: s.redirect, region: s.region, credentials: s.credentials },
    { prefix: 'reg/', partSize: 6 * MiB, redirect: true, region: 'us-east-1', credentials: null },
    'strings from the environment are parsed; no keys → the SDK default chain',
  );
  t.equal(parseS3Config(ok, { AWS_REGION: 'eu-west-3' }).region, 'eu-west-3', 'region from AWS_REGION');
});

t.test('config: NITRO_REGISTRY_S3_* environment variables fill storage.s3', async (t) => {
  const { loadConfig } = await import('../src/config.js');
  const c = loadConfig({
    env: {
      NITRO_REGISTRY_STORAGE_DRIVER: 's3',
      NITRO_REGISTRY_S3_BUCKET: 'from-env',
      NITRO_REGISTRY_S3_ENDPOINT: 'http://127.0.0.1:1',
      NITRO_REGISTRY_S3_ACCESS_KEY_ID: 'id',
      NITRO_REGISTRY_S3_SECRET_ACCESS_KEY: 'secret',
      NITRO_REGISTRY_S3_REDIRECT: 'true',
    },
  });
  t.equal(c.storage.driver, 's3');
  const s = parseS3Config(c.storage.s3, {});
  t.same([s.bucket, s.endpoint, s.credentials?.accessKeyId, s.redirect], ['from-env', 'http://127.0.0.1:1', 'id', true]);
});
