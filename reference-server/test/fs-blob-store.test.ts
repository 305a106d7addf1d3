/** The filesystem BlobStore: the driver contract, plus what is specific to its on-disk layout. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { blobStoreContract } from './blob-store-contract.js';

async function freshStore(opts: { syncDirectories?: boolean } = {}): Promise<{ store: FsBlobStore; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-fs-blob-store-'));
  const store = new FsBlobStore(dir, opts);
  await store.init();
  return { store, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
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
  await store.createUpload('layout-test-1');
  t.ok(existsSync(join(dir, 'uploads', 'layout-test-1')));
  await new Promise<void>((resolve, reject) => store.appendUpload('layout-test-1', 0).once('error', reject).end(data, () => resolve()));
  store.commitUploadSync('layout-test-1', `sha256:${hex}`);
  t.ok(existsSync(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex)));
  t.same(readdirSync(join(dir, 'uploads')), []);
});

t.test('refuses to map unverified digests and upload ids to paths', async (t) => {
  const { store, cleanup } = await freshStore();
  t.teardown(cleanup);
  for (const bad of ['sha256:../../etc/passwd', 'sha256:' + 'A'.repeat(64), '../x', 'sha256:' + 'a'.repeat(63)]) {
    t.throws(() => store.read(bad), `read ${bad}`);
    t.throws(() => store.deleteSync(bad), `deleteSync ${bad}`);
    await t.rejects(store.stat(bad), `stat ${bad}`);
  }
  for (const bad of ['../../escape', 'a/b', 'x', '']) {
    await t.rejects(store.createUpload(bad), `createUpload ${JSON.stringify(bad)}`);
    t.throws(() => store.appendUpload(bad, 0), `appendUpload ${JSON.stringify(bad)}`);
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
