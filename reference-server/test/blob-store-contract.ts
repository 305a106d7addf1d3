/**
 * The BlobStore contract (src/storage/blob-store.ts), as a suite every driver runs: call
 * `blobStoreContract(t, factory)` from a driver's test file (fs-blob-store.test.ts, s3-blob-store.test.ts).
 * Each subtest gets a fresh, empty store; `replica()` opens a second store on the same backing storage,
 * as another server process would, to prove that upload sessions move between replicas.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import type { BlobStore, BlobUpload, UploadState } from '../src/storage/blob-store.js';
import { RegistryError } from '../src/oci/errors.js';

export interface BlobStoreHandle {
  readonly store: BlobStore;
  /** Another store instance on the same storage (another replica). */
  replica(): Promise<BlobStore>;
  cleanup(): Promise<void>;
}

export type BlobStoreFactory = () => Promise<BlobStoreHandle>;

const sha = (b: Buffer, alg: 'sha256' | 'sha512' = 'sha256') => `${alg}:${createHash(alg).update(b).digest('hex')}`;

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A body that delivers `data` in pieces of at most `piece` bytes (a client streaming a chunk). */
function body(data: Buffer, piece = 64 * 1024): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i >= data.length) return void this.push(null);
      this.push(data.subarray(i, i + piece));
      i += piece;
    },
  });
}

/** A body that fails after `bytes` bytes (a client that goes away mid-chunk). */
function failingBody(data: Buffer, bytes: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) return void this.destroy(new Error('client went away'));
      sent = true;
      this.push(data.subarray(0, bytes));
    },
  });
}

let counter = 0;
const newId = () => `contract-${process.pid}-${Date.now()}-${counter++}`;

/** Stores `data` as a blob through the upload path; returns its digest. */
async function put(store: BlobStore, data: Buffer, alg: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const up = await store.startUpload(newId());
  await up.append(body(data), { length: data.length });
  const digest = sha(data, alg);
  await up.commit(digest);
  return digest;
}

async function read(store: BlobStore, digest: string, range?: { start: number; end: number }): Promise<Buffer | null> {
  const opened = await store.open(digest, range);
  return opened ? collect(opened.stream) : null;
}

async function listAll(store: BlobStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const b of store.list()) out.set(b.digest, b.size);
  return out;
}

async function uploadIds(store: BlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const u of store.listUploads()) out.push(u.id);
  return out;
}

/** A persisted state survives JSON (it is stored in the database between requests). */
const persisted = (up: BlobUpload): UploadState => JSON.parse(JSON.stringify(up.state())) as UploadState;

const code = (e: unknown) => (e instanceof RegistryError ? e.code : (e as Error).message);

export function blobStoreContract(t: Test, factory: BlobStoreFactory): void {
  const withStore = (name: string, fn: (t: Test, store: BlobStore, h: BlobStoreHandle) => Promise<void>) =>
    t.test(name, async (t) => {
      const h = await factory();
      t.teardown(() => h.cleanup());
      await fn(t, h.store, h);
    });

  withStore('an unknown blob: stat and open say null; check() passes', async (t, store) => {
    const d = sha(Buffer.from('nope'));
    t.equal(await store.stat(d), null);
    t.equal(await store.open(d), null);
    await t.resolves(store.check(), 'the storage is reachable and writable');
  });

  withStore('an upload: appended in chunks, invisible until committed, then whole; the session is gone', async (t, store) => {
    const a = randomBytes(1000);
    const b = randomBytes(70_000);
    const data = Buffer.concat([a, b]);
    const digest = sha(data);
    const up = await store.startUpload(newId());
    t.equal(up.size, 0, 'starts empty');
    t.equal(await up.append(body(a)), 1000);
    t.equal(await up.append(body(b, 4096), { length: b.length }), 71_000);
    t.equal(up.size, 71_000);
    t.equal(up.state().size, 71_000, 'the state records the size');
    t.same(await uploadIds(store), [up.id], 'listUploads names the session');
    t.equal(await store.stat(digest), null, 'not a blob before commit');
    t.notOk((await listAll(store)).has(digest), 'not listed before commit');
    t.same(await up.commit(digest), { digest, size: data.length });
    t.equal(await store.stat(digest), data.length, 'stat after commit');
    t.ok((await read(store, digest))?.equals(data), 'read after commit');
    t.equal((await listAll(store)).get(digest), data.length, 'listed with its size');
    t.same(await uploadIds(store), [], 'the session is consumed');
  });

  withStore('a session moves between replicas: every append on another instance, from the persisted state', async (t, store, h) => {
    const other = await h.replica();
    t.teardown(() => other.close());
    const parts = [randomBytes(3000), randomBytes(200_000), randomBytes(1), randomBytes(6 * 1024 * 1024 + 17)];
    const data = Buffer.concat(parts);
    const id = newId();
    let up = await store.startUpload(id);
    let state = persisted(up);
    const replicas = [other, store];
    for (const [i, part] of parts.entries()) {
      up = await replicas[i % 2]!.resumeUpload(id, state);
      t.equal(up.size, state.size, `resumed at ${state.size}`);
      await up.append(body(part));
      state = persisted(up);
    }
    const last = await other.resumeUpload(id, state);
    t.same(await last.commit(sha(data)), { digest: sha(data), size: data.length }, 'the digest covers every chunk, whoever wrote it');
    t.ok((await read(store, sha(data)))?.equals(data), 'the first replica reads what the second committed');
  });

  withStore('a failed append leaves the upload as it was: length mismatch, a body error, an abort', async (t, store) => {
    const good = randomBytes(50_000);
    const up = await store.startUpload(newId());
    await up.append(body(good));

    const more = randomBytes(40_000);
    await t.rejects(up.append(body(more), { length: more.length + 1 }), { code: 'SIZE_INVALID' }, 'fewer bytes than announced');
    t.equal(up.size, 50_000);
    await t.rejects(up.append(body(more), { length: more.length - 1 }), { code: 'SIZE_INVALID' }, 'more bytes than announced');
    t.equal(up.size, 50_000);
    await t.rejects(up.append(failingBody(more, 10_000)), 'a body that errors mid-way');
    t.equal(up.size, 50_000);
    const ac = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(more.subarray(0, 1000));
    const pending = up.append(slow, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('server shutting down')), 20);
    await t.rejects(pending, 'an aborted append');
    t.equal(up.size, 50_000);
    t.equal(up.state().size, 50_000, 'the state is unchanged too');

    const tail = randomBytes(12_345);
    await up.append(body(tail), { length: tail.length });
    const all = Buffer.concat([good, tail]);
    await up.commit(sha(all));
    t.ok((await read(store, sha(all)))?.equals(all), 'the blob holds exactly the successful appends');
  });

  withStore('resuming from a saved state ignores bytes written after it (a chunk cut by a crash)', async (t, store, h) => {
    const a = randomBytes(20_000);
    const id = newId();
    const up = await store.startUpload(id);
    await up.append(body(a));
    const saved = persisted(up);
    await up.append(body(randomBytes(30_000))); // acknowledged nowhere: the state was never saved
    const other = await h.replica();
    t.teardown(() => other.close());
    const resumed = await other.resumeUpload(id, saved);
    t.equal(resumed.size, 20_000);
    const b = randomBytes(5000);
    await resumed.append(body(b));
    const all = Buffer.concat([a, b]);
    await resumed.commit(sha(all));
    t.ok((await read(store, sha(all)))?.equals(all));
  });

  withStore('a wrong digest: DIGEST_INVALID, nothing stored, the session discarded', async (t, store) => {
    const data = randomBytes(4096);
    const id = newId();
    const up = await store.startUpload(id);
    await up.append(body(data));
    const wrong = sha(Buffer.from('something else'));
    const e = await up.commit(wrong).catch((err: unknown) => err);
    t.equal(code(e), 'DIGEST_INVALID');
    t.equal(await store.stat(wrong), null);
    t.equal(await store.stat(sha(data)), null);
    t.same(await uploadIds(store), [], 'the session is gone');
  });

  withStore('committing a digest that already exists keeps one copy; cancel and deleteUpload are idempotent', async (t, store) => {
    const data = randomBytes(5000);
    const digest = await put(store, data);
    t.equal(await put(store, data), digest);
    t.ok((await read(store, digest))?.equals(data));
    t.equal([...(await listAll(store)).keys()].filter((d) => d === digest).length, 1, 'one copy');
    const up = await store.startUpload(newId());
    await up.append(body(randomBytes(10)));
    await up.cancel();
    await up.cancel();
    await store.deleteUpload(up.id);
    t.same(await uploadIds(store), []);
    t.same(await uploadIds(store), [], 'still nothing');
    await t.rejects(store.resumeUpload(up.id, { size: 10, hash: up.state().hash }), { code: 'BLOB_UPLOAD_UNKNOWN' }, 'a cancelled session cannot be resumed');
  });

  withStore('ranged reads return the inclusive byte range and the full size', async (t, store) => {
    const data = randomBytes(10_000);
    const digest = await put(store, data);
    for (const [start, end] of [
      [0, 0],
      [0, 9],
      [5000, 9999],
      [1234, 5678],
      [9999, 9999],
    ] as const) {
      const opened = await store.open(digest, { start, end });
      t.equal(opened?.size, 10_000, 'size is the whole blob');
      t.ok((await collect(opened!.stream)).equals(data.subarray(start, end + 1)), `range ${start}-${end}`);
    }
  });

  withStore('sha256 and sha512 blobs live side by side; empty blobs work', async (t, store) => {
    const data = randomBytes(777);
    const d256 = await put(store, data, 'sha256');
    const d512 = await put(store, data, 'sha512');
    const empty = await put(store, Buffer.alloc(0));
    t.equal(await store.stat(d256), 777);
    t.equal(await store.stat(d512), 777);
    t.equal(await store.stat(empty), 0);
    t.equal((await read(store, empty))?.length, 0);
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

  withStore('a big upload in one append (several multipart parts) and many tiny appends', async (t, store) => {
    const big = randomBytes(13 * 1024 * 1024 + 5);
    const d = await put(store, big);
    t.ok((await read(store, d))?.equals(big), 'big blob reads back');
    const up = await store.startUpload(newId());
    const pieces: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const p = randomBytes(1 + ((i * 7919) % 3000));
      pieces.push(p);
      await up.append(body(p));
    }
    const all = Buffer.concat(pieces);
    await up.commit(sha(all));
    t.ok((await read(store, sha(all)))?.equals(all), 'tiny appends concatenate in order');
  });

  withStore('delete removes a blob; deleting a missing blob is fine; an empty store lists nothing', async (t, store) => {
    t.same([...(await listAll(store)).keys()], []);
    const digest = await put(store, randomBytes(100));
    await store.delete(digest);
    t.equal(await store.stat(digest), null);
    t.equal(await store.open(digest), null);
    t.notOk((await listAll(store)).has(digest));
    await t.resolves(store.delete(digest), 'missing is fine');
  });
}
