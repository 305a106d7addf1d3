/**
 * The server with `storage.driver: s3` (SQLite metadata, a fresh RGW bucket): docker-style pushes and
 * pulls over HTTP, `redirect: true` answered 307 to a presigned URL that serves the bytes and honours
 * Range, upload purge cleaning multipart uploads, and nothing but the SQLite files under the data dir.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { registryFixture, getRaw, putManifest, type RegistryFixture } from './helpers/registry.js';
import { allBlobs, blobOf, dockerImage, type Blob } from './helpers/oci.js';
import { s3Bucket, s3Client, storageS3Config, type S3Bucket } from './helpers/s3.js';
import { scaleoutSkip } from './helpers/scaleout-env.js';

const MiB = 1024 * 1024;
const s3 = { skip: scaleoutSkip('s3') };

// Real S3 round trips on a shared machine: more than the default per-file timeout.
t.setTimeout(900_000);

const s3Storage = (b: S3Bucket, redirect = false) => ({ storage: { driver: 's3', s3: storageS3Config(b, { redirect }) } });

/** Every file under a directory, relative to it. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** A docker-style blob push: POST, one streamed PATCH per chunk (Content-Range), PUT ?digest= with no body. */
async function dockerPush(f: RegistryFixture, repo: string, blob: Blob, chunk = blob.size): Promise<void> {
  const start = await f.request.post(`/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`POST → ${start.status}`);
  let location = start.headers.location as string;
  for (let off = 0; off < blob.size || off === 0; off += chunk) {
    const piece = blob.bytes.subarray(off, Math.min(off + chunk, blob.size));
    if (piece.length === 0) break;
    const res = await f.request
      .patch(location)
      .set('Content-Type', 'application/octet-stream')
      .set('Content-Range', `${off}-${off + piece.length - 1}`)
      .send(piece);
    if (res.status !== 202) throw new Error(`PATCH → ${res.status} ${JSON.stringify(res.body)}`);
    location = res.headers.location as string;
  }
  const sep = location.includes('?') ? '&' : '?';
  const done = await f.request.put(`${location}${sep}digest=${encodeURIComponent(blob.digest)}`);
  if (done.status !== 201) throw new Error(`PUT → ${done.status} ${JSON.stringify(done.body)}`);
}

t.test('push and pull through the server with blobs in S3; the data dir holds only the SQLite files', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const f = await registryFixture(t, s3Storage(bucket));
  const image = dockerImage();
  const big = blobOf(randomBytes(19 * MiB + 123));
  for (const b of allBlobs(image)) await dockerPush(f, 'team/app', b);
  await dockerPush(f, 'team/app', big, 5 * MiB); // chunks smaller than a part: merged through the tail
  t.equal((await putManifest(f.request, 'team/app', 'v1', image)).status, 201);

  const m = await getRaw(f.request, '/v2/team/app/manifests/v1').set('Accept', image.mediaType);
  t.equal(m.status, 200);
  t.ok((m.body as Buffer).equals(image.bytes), 'manifest round-trips');
  for (const b of [...allBlobs(image), big]) {
    const res = await getRaw(f.request, `/v2/team/app/blobs/${b.digest}`);
    t.equal(res.status, 200);
    t.ok((res.body as Buffer).equals(b.bytes), `blob ${b.digest.slice(7, 19)} round-trips (${b.size} bytes)`);
  }
  const ranged = await getRaw(f.request, `/v2/team/app/blobs/${big.digest}`).set('Range', 'bytes=8388600-8388699');
  t.equal(ranged.status, 206, 'Range across a part boundary, streamed through the server');
  t.ok((ranged.body as Buffer).equals(big.bytes.subarray(8388600, 8388700)));

  const client = s3Client(bucket);
  t.teardown(() => client.destroy());
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket.bucket }));
  const keys = (listed.Contents ?? []).map((o) => o.Key!);
  t.equal(keys.filter((k) => k.startsWith('blobs/')).length, allBlobs(image).length + 1, 'every blob is in the bucket');
  t.same(keys.filter((k) => !k.startsWith('blobs/')), [], 'no upload objects left behind');
  t.same(
    files(f.dataDir).filter((p) => !/^registry\.db(-wal|-shm)?$/.test(p)),
    [],
    'nothing under the data dir but the SQLite database',
  );
});

t.test('redirect: true → 307 to a presigned URL that serves the bytes and honours Range; HEAD stays local', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const f = await registryFixture(t, s3Storage(bucket, true));
  const blob = blobOf(randomBytes(3 * MiB));
  await dockerPush(f, 'r/redir', blob);
  const res = await f.request.get(`/v2/r/redir/blobs/${blob.digest}`).redirects(0);
  t.equal(res.status, 307);
  t.equal(res.headers['docker-content-digest'], blob.digest);
  const location = res.headers.location as string;
  t.ok(location.startsWith(`${bucket.endpoint}/${bucket.bucket}/blobs/sha256/`), 'points at the object in the bucket');
  t.match(location, /X-Amz-Signature=/);
  const whole = await fetch(location);
  t.equal(whole.status, 200);
  t.ok(Buffer.from(await whole.arrayBuffer()).equals(blob.bytes), 'the presigned URL serves the blob');
  const part = await fetch(location, { headers: { Range: 'bytes=100-199' } });
  t.equal(part.status, 206);
  t.ok(Buffer.from(await part.arrayBuffer()).equals(blob.bytes.subarray(100, 200)), 'and a range of it');
  const head = await f.request.head(`/v2/r/redir/blobs/${blob.digest}`);
  t.equal(head.status, 200, 'HEAD is answered by the server');
  t.equal(head.headers['content-length'], String(blob.size));
  const unknown = await f.request.get(`/v2/r/redir/blobs/sha256:${'0'.repeat(64)}`).redirects(0);
  t.equal(unknown.status, 404, 'no redirect for a blob the repository does not have');
});

t.test('purging an abandoned upload aborts its multipart upload and deletes its objects', s3, async (t) => {
  const bucket = await s3Bucket(t);
  const f = await registryFixture(t, s3Storage(bucket));
  const start = await f.request.post('/v2/p/abandon/blobs/uploads/');
  const res = await f.request
    .patch(start.headers.location as string)
    .set('Content-Type', 'application/octet-stream')
    .send(randomBytes(9 * MiB));
  t.equal(res.status, 202);
  const client = s3Client(bucket);
  t.teardown(() => client.destroy());
  const mpus = async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket.bucket }))).Uploads ?? []).length;
  t.equal(await mpus(), 1, 'a part was uploaded');
  t.equal(await f.registry.deps.uploads.purgeStale(Date.now() + 60_000), 1);
  t.equal(await mpus(), 0, 'the multipart upload is aborted');
  t.same((await client.send(new ListObjectsV2Command({ Bucket: bucket.bucket }))).Contents ?? [], [], 'no objects left');
});
