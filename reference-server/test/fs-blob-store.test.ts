/** The filesystem BlobStore: the driver contract, plus what is specific to its on-disk layout. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { blobStoreContract } from './blob-store-contract.js';

async function freshStore(opts: { syncDirectories?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-fs-blob-store-'));
  const store = new FsBlobStore(dir, opts);
  await store.init();
  return {
    store,
    dir,
    // Replicas sharing a directory: another instance on the same path.
    replica: async () => {
      const other = new FsBlobStore(dir, opts);
      await other.init();
      return other;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

t.test('contract', async (t) => {
  blobStoreContract(t, () => freshStore());
});

t.test('contract, with directories fsynced after each commit (durability: full)', async (t) => {
  blobStoreContract(t, () => freshStore({ syncDirectories: true }));
});

t.test('layout: blobs/<alg>/<first two hex>/<hex>, uploads/<id>', async (t) => {
  const { store, dir, cleanup } = await freshStore();
  t.teardown(cleanup);
  const data = randomBytes(64);
  const hex = createHash('sha256').update(data).digest('hex');
  const up = await store.startUpload('layout-test-1');
  t.ok(existsSync(join(dir, 'uploads', 'layout-test-1')));
  await up.append(Readable.from([data]));
  await up.commit(`sha256:${hex}`);
  t.ok(existsSync(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex)));
  t.same(readdirSync(join(dir, 'uploads')), []);
});

t.test('refuses to map unverified digests and upload ids to paths', async (t) => {
  const { store, cleanup } = await freshStore();
  t.teardown(cleanup);
  for (const bad of ['sha256:../../etc/passwd', 'sha256:' + 'A'.repeat(64), '../x', 'sha256:' + 'a'.repeat(63)]) {
    await t.rejects(store.open(bad), `open ${bad}`);
    await t.rejects(store.delete(bad), `delete ${bad}`);
    await t.rejects(store.stat(bad), `stat ${bad}`);
  }
  for (const bad of ['../../escape', 'a/b', 'x', '']) {
    await t.rejects(store.startUpload(bad), `startUpload ${JSON.stringify(bad)}`);
    await t.rejects(store.resumeUpload(bad, { size: 0, hash: '' }), `resumeUpload ${JSON.stringify(bad)}`);
    await t.rejects(store.deleteUpload(bad), `deleteUpload ${JSON.stringify(bad)}`);
  }
});

t.test('list skips stray files that are not blobs', async (t) => {
  const { store, dir, cleanup } = await freshStore();
  t.teardown(cleanup);
  mkdirSync(join(dir, 'blobs', 'sha256', 'ab'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', 'ab', 'not-a-digest'), 'x');
  writeFileSync(join(dir, 'blobs', 'sha256', 'stray-file'), 'x');
  const seen: string[] = [];
  for await (const b of store.list()) seen.push(b.digest);
  t.same(seen, []);
});

t.test('a session whose hash state cannot be restored is rehashed from its file', async (t) => {
  const { store, cleanup } = await freshStore();
  t.teardown(cleanup);
  const data = randomBytes(100_000);
  const up = await store.startUpload('rehash-test-1');
  await up.append(Readable.from([data]));
  // A state written by an older version (no portable hash state) still resumes.
  const resumed = await store.resumeUpload('rehash-test-1', { size: data.length, hash: '' });
  t.equal(resumed.size, data.length);
  await resumed.commit(`sha256:${createHash('sha256').update(data).digest('hex')}`);
  t.equal(await store.stat(`sha256:${createHash('sha256').update(data).digest('hex')}`), data.length);
});
