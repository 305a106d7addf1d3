/**
 * Request-body chunks are freed as soon as they are stored (storage/body-chunks.ts, the addon's
 * detachBuffers) — and never before, and never when they are not the request's own: a chunk a sink
 * still reads, a chunk another listener also got, a chunk of a caller's own Readable, a slice of a
 * pooled buffer all stay intact, and the stored bytes and digest are always the body's. An abort while a
 * thread-pool job still reads a batch frees nothing until the job has run.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Readable, Writable } from 'node:stream';
import t from 'tap';
import { fileSink } from '../src/storage/file-sink.js';
import { nativeHash } from '../src/storage/native-hash.js';
import { pumpBody, writableSink, type SinkFactory } from '../src/storage/pump.js';
import { ResumableHash } from '../src/storage/resumable-hash.js';

const skip = nativeHash ? false : 'the addon is not built (detachBuffers is native)';
const dir = mkdtempSync(join(tmpdir(), 'body-chunks-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** What a recording sink saw: every chunk, and how many did not have an ArrayBuffer of their own then. */
interface Recorded {
  readonly chunks: Buffer[];
  notOwnBuffer: number;
}
const recorded = (): Recorded => ({ chunks: [], notOwnBuffer: 0 });

/** Wraps a sink factory so the test sees every chunk the pump hands it (without a 'data' listener). */
function recording(inner: SinkFactory, rec: Recorded): SinkFactory {
  const buffers = new Set<ArrayBufferLike>();
  return (ctx) => {
    const sink = inner(ctx);
    return {
      ...sink,
      write: (chunk) => {
        // Checked on arrival: once freed, a chunk's view and ArrayBuffer are both empty.
        if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== chunk.length || buffers.has(chunk.buffer)) rec.notOwnBuffer++;
        buffers.add(chunk.buffer);
        rec.chunks.push(chunk);
        return sink.write(chunk);
      },
    };
  };
}

/** POSTs `body` to a one-shot server whose handler gets the IncomingMessage. */
async function withRequest<T>(body: Buffer, handle: (req: IncomingMessage) => Promise<T>): Promise<T> {
  let result!: Promise<T>;
  const server = createServer((req, res) => {
    result = handle(req);
    result.then(
      () => res.end('ok'),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
    await res.arrayBuffer();
    return await result;
  } finally {
    server.close();
  }
}

/** Pumps `body` into a new file. alsoListen: another 'data' listener, attached with the pump's or after it. */
async function pumpToFile(body: Readable, rec: Recorded, alsoListen: 'before' | 'later' | false = false) {
  const path = join(dir, `up-${seq++}`);
  writeFileSync(path, '');
  const hash = ResumableHash.create('sha256');
  let otherListenerGot: Buffer | undefined;
  const fh = await open(path, 'r+');
  try {
    if (alsoListen === 'before') body.on('data', () => undefined); // same tick as the pump's: both see every chunk
    const done = pumpBody(body, recording(fileSink(fh.fd, 0, hash), rec));
    if (alsoListen === 'later') body.once('data', (c: Buffer) => (otherListenerGot = c));
    await done;
  } finally {
    await fh.close();
  }
  return { stored: readFileSync(path), digest: hash.digest(), otherListenerGot };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

t.test('file sink: an HTTP request body is stored whole and every chunk is freed once stored', { skip }, async (t) => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const rec = recorded();
  const seen = rec.chunks;
  const { stored, digest } = await withRequest(body, (req) => pumpToFile(req, rec));
  t.ok(stored.equals(body), 'the file holds the body');
  t.equal(digest, sha(body), 'the digest is the body’s');
  t.ok(seen.length > 1, `the body came in ${seen.length} chunks`);
  t.same(
    seen.filter((c) => c.byteLength !== 0).length,
    0,
    'every chunk was detached (byteLength 0) after the pump',
  );
  // What makes freeing them safe: Node's HTTP parser gives every chunk an ArrayBuffer of its own. A Node
  // that recycles body buffers must fail here (body-chunks.ts), not corrupt uploads.
  t.equal(rec.notOwnBuffer, 0, 'every chunk had an ArrayBuffer of its own, never seen before');
});

t.test('a body with another data listener, or one that is not a request, keeps its chunks', { skip }, async (t) => {
  const body = randomBytes(1024 * 1024 + 5);
  const rec = recorded();
  const { stored } = await withRequest(body, (req) => pumpToFile(req, rec, 'before'));
  t.ok(stored.equals(body), 'stored whole');
  t.ok(rec.chunks.length > 0 && rec.chunks.every((c) => c.byteLength > 0), 'another listener saw the chunks: none detached');

  const late = await withRequest(body, (req) => pumpToFile(req, recorded(), 'later'));
  t.ok(late.stored.equals(body), 'stored whole with a listener added mid-body');
  t.ok(late.otherListenerGot, 'the late listener got a chunk');
  t.ok(late.otherListenerGot!.byteLength > 0, 'the chunk a late listener holds is not freed under it, even after the pump finished');

  const own = [randomBytes(200_000), randomBytes(300_000), randomBytes(70_000)];
  const copies = own.map((c) => Buffer.from(c));
  const r = await pumpToFile(Readable.from(own, { objectMode: false }), recorded());
  t.ok(r.stored.equals(Buffer.concat(copies)), 'stored whole');
  t.ok(own.every((c, i) => c.equals(copies[i]!)), 'the caller’s own buffers are untouched');
});

t.test('writable sink: a chunk is freed only after both the Writable and the hash are done with it', { skip }, async (t) => {
  const body = randomBytes(2 * 1024 * 1024 + 3);
  const received: Buffer[] = [];
  let emptyOnArrival = 0;
  // A slow Writable that reads each chunk only later, as an S3 part writer's async path does.
  const out = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        if (chunk.byteLength === 0) emptyOnArrival++;
        received.push(Buffer.from(chunk));
        cb();
      }, 1);
    },
  });
  const hash = ResumableHash.create('sha256');
  const rec = recorded();
  const seen = rec.chunks;
  await withRequest(body, (req) => pumpBody(req, recording(writableSink(out, hash, { copiesChunks: true }), rec)));
  t.equal(emptyOnArrival, 0, 'no chunk was freed before the Writable read it');
  t.ok(Buffer.concat(received).equals(body), 'the Writable got the body');
  t.equal(hash.digest(), sha(body), 'the hash covers the body');
  t.ok(seen.length > 1 && seen.every((c) => c.byteLength === 0), `all ${seen.length} chunks freed afterwards`);

  // A Writable that keeps the chunks (no copiesChunks): nothing is freed; its reader gets the body.
  const through = new PassThrough({ highWaterMark: 64 * 1024 * 1024 });
  const kept2 = recorded();
  const seen2 = kept2.chunks;
  await withRequest(body, (req) => pumpBody(req, recording(writableSink(through, undefined), kept2)));
  const kept: Buffer[] = [];
  for await (const c of through) kept.push(c as Buffer);
  t.ok(Buffer.concat(kept).equals(body), 'a keeping Writable’s reader gets the whole body');
  t.ok(seen2.every((c) => c.byteLength > 0), 'and none of its chunks was freed');
});

t.test('detachBuffers frees only views that span their whole ArrayBuffer', { skip }, (t) => {
  const pooled = Buffer.from('a small string lives in the shared pool');
  const whole = Buffer.allocUnsafeSlow(4096).fill(1);
  const slice = Buffer.allocUnsafeSlow(4096).fill(2).subarray(100, 200);
  const freed = nativeHash!.detachBuffers([pooled, whole, slice]);
  t.equal(freed, 4096, 'bytes freed: the whole buffer only');
  t.equal(whole.byteLength, 0, 'the whole buffer is detached');
  t.equal(pooled.toString(), 'a small string lives in the shared pool', 'a pool slice is untouched');
  t.equal(slice.length, 100, 'a slice is untouched');
  t.equal(nativeHash!.detachBuffers([whole]), 0, 'detaching twice frees nothing');
  t.throws(() => nativeHash!.detachBuffers('nope' as unknown as Buffer[]), /array of Uint8Array/);
  t.throws(() => (nativeHash!.detachBuffers as () => number)(), /too few arguments/);
  t.end();
});

t.test('an abort while a hash-and-write job is in flight frees nothing until the job has run', { skip }, async (t) => {
  const child = fileURLToPath(new URL('./helpers/inflight-abort-child.ts', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, child], {
    env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, `child exited 0 ${r.stderr.slice(-1000)}`);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    whileInFlight?: { settled: boolean; chunks: number; freed: number };
    afterAbort?: { freed: number };
    storedIsPrefix?: boolean;
  };
  t.equal(report.whileInFlight?.settled, false, 'the pump waits for the job in flight before it rejects');
  t.equal(report.whileInFlight?.freed, 0, `no chunk freed while the job could read it (${report.whileInFlight?.chunks} chunks so far)`);
  t.ok((report.afterAbort?.freed ?? 0) > 0, 'the batch the job stored is freed once it has run');
  t.equal(report.storedIsPrefix, true, 'what reached the file is the body’s start (no freed memory written)');
});
