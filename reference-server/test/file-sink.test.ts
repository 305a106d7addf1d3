/**
 * The filesystem driver's upload sink (storage/file-sink.ts) driven by pumpBody, on both hash engines:
 * bytes land at the right offset and the hash covers exactly them, whatever the chunking and batch
 * sizes (including batches of more iovecs than one pwritev takes); a write error, an abort and an
 * over-long body reject only once no write is in flight any more, and leave the body drained.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { fileSink, type FileSinkOptions } from '../src/storage/file-sink.js';
import { nativeHash } from '../src/storage/native-hash.js';
import { pumpBody } from '../src/storage/pump.js';
import { ResumableHash } from '../src/storage/resumable-hash.js';

const engines: Array<'native' | 'js'> = nativeHash ? ['native', 'js'] : ['js'];
const dir = mkdtempSync(join(tmpdir(), 'file-sink-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** `parts` as a body stream, one 'data' event each. */
const bodyOf = (parts: Buffer[]) => Readable.from(parts, { objectMode: false });

async function appendTo(path: string, position: number, hash: ResumableHash, body: Readable, opts: FileSinkOptions = {}, limit?: number) {
  const fh = await open(path, 'r+');
  try {
    return await pumpBody(body, fileSink(fh.fd, position, hash, opts), limit === undefined ? {} : { limit });
  } finally {
    await fh.close();
  }
}

for (const engine of engines) {
  t.test(`${engine}: bytes at the offset, hash over exactly them, for several batch shapes`, async (t) => {
    const shapes: Array<[string, number[], FileSinkOptions]> = [
      ['default batches, 64 KiB chunks', Array(40).fill(64 * 1024), {}],
      ['tiny batches and backlog (pauses often)', [1, 63, 64, 65, 1000, 4096, 7, 100_000, 3], { batchBytes: 100, maxBacklog: 300 }],
      ['3000 one-byte chunks in one batch (> one pwritev of iovecs)', Array(3000).fill(1), { batchBytes: 1 << 20, maxBacklog: 1 << 21 }],
      ['an odd total', [333_333, 1, 65_536, 12_345], { batchBytes: 70_000, maxBacklog: 200_000 }],
    ];
    for (const [name, sizes, opts] of shapes) {
      const prefix = randomBytes(777);
      const parts = sizes.map((n) => randomBytes(n));
      const all = Buffer.concat(parts);
      const path = join(dir, `up-${seq++}`);
      writeFileSync(path, prefix);
      const hash = ResumableHash.create('sha256', { engine });
      hash.update(prefix);
      const received = await appendTo(path, prefix.length, hash, bodyOf(parts), opts);
      t.equal(received, all.length, `${name}: byte count`);
      t.ok(readFileSync(path).equals(Buffer.concat([prefix, all])), `${name}: file = prefix + body`);
      t.equal(hash.bytes, prefix.length + all.length, `${name}: hash counted every byte`);
      t.equal(hash.digest(), `sha256:${createHash('sha256').update(prefix).update(all).digest('hex')}`, `${name}: digest`);
    }
  });

  t.test(`${engine}: a write error rejects with the fs error (code, syscall) and the rest of the body is drained`, async (t) => {
    const path = join(dir, `ro-${seq++}`);
    writeFileSync(path, '');
    const fh = await open(path, 'r'); // read-only: pwritev fails with EBADF
    const body = bodyOf(Array(20).fill(null).map(() => randomBytes(64 * 1024)));
    let ended = false;
    body.on('end', () => (ended = true));
    const err = (await pumpBody(body, fileSink(fh.fd, 0, ResumableHash.create('sha256', { engine }), { batchBytes: 64 * 1024, maxBacklog: 128 * 1024 })).then(
      () => null,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException | null;
    await fh.close();
    t.ok(err, 'rejected');
    t.equal(err?.code, 'EBADF', `code (${err?.message})`);
    if (engine === 'native') t.equal(err?.syscall, 'pwritev', 'syscall named');
    await new Promise((r) => setImmediate(r));
    t.ok(ended || body.readableEnded || body.destroyed, 'the rest of the body was drained');
    t.equal(statSync(path).size, 0, 'nothing written');
  });

  t.test(`${engine}: an abort mid-body rejects only once the write in flight has finished`, async (t) => {
    const path = join(dir, `ab-${seq++}`);
    writeFileSync(path, '');
    const body = new PassThrough();
    const ac = new AbortController();
    const fh = await open(path, 'r+');
    const hash = ResumableHash.create('sha256', { engine });
    // Hold the first batch's job open: the pump must not reject before it is released.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const real = hash.updateAndWrite.bind(hash);
    hash.updateAndWrite = (chunks, fd, at) => (started++, gate.then(() => real(chunks, fd, at)));
    let settled = false;
    const p = pumpBody(body, fileSink(fh.fd, 0, hash, { batchBytes: 64 * 1024, maxBacklog: 1 << 20 }), { signal: ac.signal }).then(
      () => ((settled = true), null),
      (e: unknown) => ((settled = true), e as Error),
    );
    body.write(randomBytes(64 * 1024));
    await new Promise((r) => setImmediate(r));
    t.equal(started, 1, 'a job is in flight');
    ac.abort(new Error('client went away'));
    await new Promise((r) => setTimeout(r, 50));
    t.notOk(settled, 'not rejected while the job is still running');
    release();
    const err = await p;
    t.equal(err?.message, 'client went away');
    t.equal((await fh.stat()).size, 64 * 1024, 'the job finished before the rejection (its bytes are there)');
    await fh.close();
    body.end();
  });

  t.test(`${engine}: maxBacklog below batchBytes does not stall the body`, async (t) => {
    const path = join(dir, `bl-${seq++}`);
    writeFileSync(path, '');
    const parts = Array.from({ length: 10 }, () => randomBytes(10_000));
    const hash = ResumableHash.create('sha256', { engine });
    const received = await appendTo(path, 0, hash, bodyOf(parts), { batchBytes: 1 << 20, maxBacklog: 15_000 });
    t.equal(received, 100_000);
    t.equal(hash.digest(), `sha256:${createHash('sha256').update(Buffer.concat(parts)).digest('hex')}`);
  });

  t.test(`${engine}: more bytes than announced → SIZE_INVALID`, async (t) => {
    const path = join(dir, `lim-${seq++}`);
    writeFileSync(path, '');
    const err = (await appendTo(path, 0, ResumableHash.create('sha256', { engine }), bodyOf([randomBytes(1000), randomBytes(1000)]), {}, 1500).then(
      () => null,
      (e: unknown) => e,
    )) as { code?: string } | null;
    t.equal(err?.code, 'SIZE_INVALID');
  });
}

t.test('trimMemory (used by idle-memory.ts) is callable and answers whether glibc released anything', { skip: nativeHash ? false : 'addon not built' }, async (t) => {
  t.type(nativeHash?.trimMemory(), 'boolean');
});

t.test('an addon from an older build (functions missing) counts as unavailable, and REQUIRE_NATIVE refuses it', async (t) => {
  const built = join(import.meta.dirname, '../../build/reference-server/src/storage/native-hash.js');
  const fake = join(dir, 'old-addon.cjs');
  writeFileSync(fake, 'module.exports = { ctxSize: 1, init() {}, update() {}, updateAsync() {}, exportState() {}, importState() {}, digest() {} };');
  const probe = (env: NodeJS.ProcessEnv) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(built).href)}); console.log(JSON.stringify([m.nativeHash === null, m.nativeHashError]));`], {
      env: { ...process.env, NITRO_REGISTRY_NATIVE_HASH_PATH: fake, NITRO_REGISTRY_REQUIRE_NATIVE: '', NITRO_REGISTRY_DISABLE_NATIVE: '', ...env },
      encoding: 'utf8',
    });
  const r = probe({});
  t.equal(r.status, 0, r.stderr);
  const [unavailable, why] = JSON.parse(r.stdout) as [boolean, string];
  t.ok(unavailable, 'not used');
  t.match(why, /out of date \(no hashWriteAsync, trimMemory, detachBuffers\): npm run build:native/);
  const strict = probe({ NITRO_REGISTRY_REQUIRE_NATIVE: '1' });
  t.not(strict.status, 0, 'NITRO_REGISTRY_REQUIRE_NATIVE=1: the import fails');
  t.match(strict.stderr, /out of date/);
});
