/**
 * The BlobStore contract (src/storage/blob-store.ts), as a suite any driver runs: call
 * `blobStoreContract(t, factory)` from a driver's test file (fs-blob-store.test.ts does). Each subtest
 * gets a fresh, empty store from the factory and cleans it up.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { BlobStore } from '../src/storage/blob-store.js';

export interface BlobStoreHandle {
  readonly store: BlobStore;
  cleanup(): Promise<void>;
}

export type BlobStoreFactory = () => Promise<BlobStoreHandle>;

const sha = (b: Buffer, alg: 'sha256' | 'sha512' = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function write(store: BlobStore, id: string, offset: number, data: Buffer): Promise<void> {
  const w = store.appendUpload(id, offset);
  await new Promise<void>((resolve, reject) => {
    w.once('error', reject);
    w.end(data, () => resolve());
  });
  // Wait until the file handle is closed, so a following size check sees every byte.
  if (!(w as { closed?: boolean }).closed) await new Promise<void>((resolve) => w.once('close', () => resolve()));
}

let counter = 0;
const newId = () => `contract-${process.pid}-${Date.now()}-${counter++}`;

/** Stores `data` as a blob through the upload path; returns its digest. */
async function commit(store: BlobStore, data: Buffer, alg: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const id = newId();
  await store.createUpload(id);
  await write(store, id, 0, data);
  await store.syncUpload(id);
  const digest = sha(data, alg);
  store.commitUploadSync(id, digest);
  return digest;
}

async function listAll(store: BlobStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const b of store.list()) out.set(b.digest, b.size);
  return out;
}

export function blobStoreContract(t: Test, factory: BlobStoreFactory): void {
  const withStore = (name: string, fn: (t: Test, store: BlobStore) => Promise<void>) =>
    t.test(name, async (t) => {
      const h = await factory();
      t.teardown(() => h.cleanup());
      await fn(t, h.store);
    });

  withStore('stat and read of an unknown blob: null, and an ENOENT error event', async (t, store) => {
    const d = sha(Buffer.from('nope'));
    t.equal(await store.stat(d), null);
    const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      const s = store.read(d);
      s.once('error', resolve);
      s.once('data', () => reject(new Error('data from a missing blob')));
      s.resume();
    });
    t.equal(err.code, 'ENOENT');
  });

  withStore('an upload: created empty, appended at offsets, sized, read back, truncated', async (t, store) => {
    const id = newId();
    t.equal(await store.uploadSize(id), null, 'no session yet');
    await store.createUpload(id);
    t.equal(await store.uploadSize(id), 0, 'created empty');
    const a = randomBytes(1000);
    const b = randomBytes(70_000);
    await write(store, id, 0, a);
    t.equal(await store.uploadSize(id), 1000);
    await write(store, id, 1000, b);
    t.equal(await store.uploadSize(id), 71_000);
    t.ok((await collect(store.readUpload(id))).equals(Buffer.concat([a, b])), 'readUpload streams every byte in order');
    await store.truncateUpload(id, 1000);
    t.equal(await store.uploadSize(id), 1000, 'truncated back to the last good offset');
    t.ok((await collect(store.readUpload(id))).equals(a));
    await write(store, id, 1000, b); // writing after a truncate continues at the offset
    t.ok((await collect(store.readUpload(id))).equals(Buffer.concat([a, b])));
    const listed = [];
    for await (const u of store.listUploads()) listed.push(u);
    t.same(listed.map((u) => [u.id, u.size]), [[id, 71_000]], 'listUploads names the scratch file and its size');
    await store.deleteUpload(id);
    t.equal(await store.uploadSize(id), null, 'deleted');
    await store.deleteUpload(id); // missing is fine
    for await (const u of store.listUploads()) t.fail(`listed after delete: ${u.id}`);
  });

  withStore('commit makes the upload a blob atomically: invisible before, whole after, scratch gone', async (t, store) => {
    const data = randomBytes(300_000);
    const digest = sha(data);
    const id = newId();
    await store.createUpload(id);
    await write(store, id, 0, data);
    t.equal(await store.stat(digest), null, 'not a blob before commit');
    t.notOk((await listAll(store)).has(digest), 'not listed before commit');
    await store.syncUpload(id);
    store.commitUploadSync(id, digest);
    t.equal(await store.stat(digest), data.length, 'stat after commit');
    t.ok((await collect(store.read(digest))).equals(data), 'read after commit');
    t.equal(await store.uploadSize(id), null, 'scratch file consumed');
    t.equal((await listAll(store)).get(digest), data.length, 'listed with its size');
  });

  withStore('committing a digest that already exists keeps the blob and drops the scratch file', async (t, store) => {
    const data = randomBytes(5000);
    const digest = await commit(store, data);
    const again = await commit(store, data);
    t.equal(again, digest);
    t.ok((await collect(store.read(digest))).equals(data));
    t.equal([...(await listAll(store)).keys()].filter((d) => d === digest).length, 1, 'one copy');
  });

  withStore('ranged reads return the inclusive byte range', async (t, store) => {
    const data = randomBytes(10_000);
    const digest = await commit(store, data);
    for (const [start, end] of [
      [0, 0],
      [0, 9],
      [5000, 9999],
      [1234, 5678],
      [9999, 9999],
    ] as const) {
      t.ok((await collect(store.read(digest, { start, end }))).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
  });

  withStore('sha256 and sha512 blobs live side by side; empty blobs work', async (t, store) => {
    const data = randomBytes(777);
    const d256 = await commit(store, data, 'sha256');
    const d512 = await commit(store, data, 'sha512');
    const empty = await commit(store, Buffer.alloc(0));
    t.equal(await store.stat(d256), 777);
    t.equal(await store.stat(d512), 777);
    t.equal(await store.stat(empty), 0);
    t.equal((await collect(store.read(empty))).length, 0);
    const listed = await listAll(store);
    t.same(
      [...listed.entries()].sort(),
      [
        [d256, 777],
        [d512, 777],
        [empty, 0],
      ].sort(),
      'list yields every committed blob once with its size',
    );
  });

  withStore('deleteSync removes a blob; deleting a missing blob is fine', async (t, store) => {
    const data = randomBytes(100);
    const digest = await commit(store, data);
    store.deleteSync(digest);
    t.equal(await store.stat(digest), null);
    t.notOk((await listAll(store)).has(digest));
    t.doesNotThrow(() => store.deleteSync(digest), 'missing is fine');
  });

  withStore('an empty store lists nothing', async (t, store) => {
    t.same([...(await listAll(store)).keys()], []);
  });
}
