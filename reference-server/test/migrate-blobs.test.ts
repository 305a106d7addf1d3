/**
 * `nitro-registry migrate-blobs --to-s3`: a registry pushed on the filesystem serves the same images from
 * S3 after the copy and a driver switch; a second run copies nothing; a corrupt source file is reported
 * and never published; the command is wired into the CLI table.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import t from 'tap';
import { registryFixture, getRaw, putManifest, pushBlob } from './helpers/registry.js';
import { allBlobs, blobOf, ociImage } from './helpers/oci.js';
import { s3Bucket, storageS3Config } from './helpers/s3.js';
import { scaleoutSkip } from './helpers/scaleout-env.js';
import { migrateBlobsCommand } from '../src/storage/migrate-cli.js';
import { S3BlobStore, parseS3Config } from '../src/storage/s3-blob-store.js';

const MiB = 1024 * 1024;

// Real S3 round trips on a shared machine: more than the default per-file timeout.
t.setTimeout(900_000);
const repoRoot = new URL('../..', import.meta.url).pathname;

/** Runs the command in-process with a config file; returns exit code and output. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const code = await migrateBlobsCommand(args, sink);
  return { code, out };
}

t.test('filesystem → S3: copied, verified, resumable; the server then serves every image from the bucket', { skip: scaleoutSkip('s3') }, async (t) => {
  const bucket = await s3Bucket(t);
  const f = await registryFixture(t, { storage: { driver: 'filesystem' } });
  const image = ociImage();
  const big = blobOf(randomBytes(17 * MiB + 5));
  for (const b of [...allBlobs(image), big]) t.equal((await pushBlob(f.request, 'mig/app', b)).status, 201);
  t.equal((await putManifest(f.request, 'mig/app', 'v1', image)).status, 201);
  const expected = allBlobs(image).length + 1; // + big (manifests live in the metadata store)

  const cfg = join(f.dataDir, 'migrate.json');
  writeFileSync(cfg, JSON.stringify({ data: f.dataDir, storage: { s3: storageS3Config(bucket) } }));
  const first = await run(['--to-s3', '--config', cfg, '--json']);
  t.equal(first.code, 0, first.out);
  const r1 = JSON.parse(first.out) as { copied: number; present: number; failed: unknown[]; copiedBytes: number };
  t.equal(r1.copied, expected, 'every blob copied');
  t.equal(r1.present, 0);
  t.same(r1.failed, []);
  t.ok(r1.copiedBytes > big.size);

  const second = await run(['--to-s3', '--config', cfg, '--json']);
  const r2 = JSON.parse(second.out) as { copied: number; present: number };
  t.same([second.code, r2.copied, r2.present], [0, 0, expected], 'a second run copies nothing');

  await f.restart({ storage: { driver: 's3', s3: storageS3Config(bucket) } });
  t.equal(f.registry.deps.blobs.kind, 's3');
  const m = await getRaw(f.request, '/v2/mig/app/manifests/v1').set('Accept', image.mediaType);
  t.equal(m.status, 200);
  for (const b of [...allBlobs(image), big]) {
    const res = await getRaw(f.request, `/v2/mig/app/blobs/${b.digest}`);
    t.ok(res.status === 200 && (res.body as Buffer).equals(b.bytes), `blob ${b.digest.slice(7, 19)} served from S3`);
  }

  // A source file whose bytes do not match its name: reported, not published, exit 1.
  const fake = createHash('sha256').update('what the name promises').digest('hex');
  mkdirSync(join(f.dataDir, 'blobs', 'sha256', fake.slice(0, 2)), { recursive: true });
  writeFileSync(join(f.dataDir, 'blobs', 'sha256', fake.slice(0, 2), fake), 'something else entirely');
  const third = await run(['--to-s3', '--config', cfg]);
  t.equal(third.code, 1);
  t.match(third.out, /failed  sha256:[0-9a-f]{64} 23: provided digest did not match/);
  t.match(third.out, new RegExp(`copied 0 blobs \\(0\\.0 MiB\\), ${expected} already present, 1 failed`));
  const s3 = new S3BlobStore(parseS3Config(storageS3Config(bucket)));
  t.teardown(() => s3.close());
  t.equal(await s3.stat(`sha256:${fake}`), null, 'the corrupt blob is not in the bucket');
  const uploads: string[] = [];
  for await (const u of s3.listUploads()) uploads.push(u.id);
  t.same(uploads, [], 'its upload was cancelled');
});

t.test('the CLI table runs it; usage errors exit 2', { skip: scaleoutSkip('s3') }, async (t) => {
  const bucket = await s3Bucket(t);
  const f = await registryFixture(t, { storage: { driver: 'filesystem' } });
  t.equal((await pushBlob(f.request, 'cli/app', blobOf(randomBytes(1000)))).status, 201);
  const env = Object.fromEntries(
    Object.entries(storageS3Config(bucket)).map(([k, v]) => [`NITRO_REGISTRY_S3_${k.toUpperCase()}`, String(v)]),
  );
  const exec = promisify(execFile);
  const bin = join(repoRoot, 'bin', 'nitro-registry.js');
  const ok = await exec(process.execPath, [bin, 'migrate-blobs', '--to-s3', '--data', f.dataDir], { env: { ...process.env, ...env } });
  t.match(ok.stdout, /copied 1 blobs .* 0 already present, 0 failed/);
  const usage = await exec(process.execPath, [bin, 'migrate-blobs', '--data', f.dataDir], { env: { ...process.env, ...env } }).catch((e: { code: number; stderr: string }) => e);
  t.equal((usage as { code: number }).code, 2);
  t.match((usage as { stderr: string }).stderr, /--to-s3/);
  const noBucket = await exec(process.execPath, [bin, 'migrate-blobs', '--to-s3', '--data', f.dataDir], {
    env: { ...process.env, ...env, NITRO_REGISTRY_S3_BUCKET: '' },
  }).catch((e: { code: number; stderr: string }) => e);
  t.equal((noBucket as { code: number }).code, 2);
  t.match((noBucket as { stderr: string }).stderr, /storage\.s3\.bucket is required/);
});
