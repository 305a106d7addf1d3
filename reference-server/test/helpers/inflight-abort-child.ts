/**
 * Child process for body-chunks.test.ts, run with UV_THREADPOOL_SIZE=1: the pool's one thread is held
 * by a blocking open() of a FIFO, so the file sink's hash-and-write job stays in flight while the pump
 * is aborted. Prints one JSON line: whether the pump had settled and how many chunks were freed while
 * the job could still read them (both must be none), and whether what reached the file is a prefix of
 * the body once the job ran.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, open as openCb, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileSink } from '../../src/storage/file-sink.js';
import { pumpBody, type SinkFactory } from '../../src/storage/pump.js';
import { ResumableHash } from '../../src/storage/resumable-hash.js';

const dir = mkdtempSync(join(tmpdir(), 'inflight-abort-'));
const fifo = join(dir, 'fifo');
const path = join(dir, 'upload');
execFileSync('mkfifo', [fifo]);
writeFileSync(path, '');
const fh = await open(path, 'r+');
openCb(fifo, 'r', (err, fd) => {
  if (!err) closeSync(fd);
}); // holds the pool's only thread until a writer opens the FIFO
await sleep(50);

const body = randomBytes(1024 * 1024);
const seen: Buffer[] = [];
const ac = new AbortController();
const report: Record<string, unknown> = {};
const freed = () => seen.filter((c) => c.byteLength === 0).length;
const server = createServer((req, res) => {
  const inner = fileSink(fh.fd, 0, ResumableHash.create('sha256'), { batchBytes: 256 * 1024, maxBacklog: 512 * 1024 });
  const recording: SinkFactory = (ctx) => {
    const sink = inner(ctx);
    return {
      ...sink,
      write: (c) => {
        seen.push(c);
        if (seen.reduce((n, x) => n + x.length, 0) >= 300 * 1024 && !ac.signal.aborted) setImmediate(() => ac.abort(new Error('test abort')));
        return sink.write(c);
      },
    };
  };
  let settled = false;
  const pumped = pumpBody(req, recording, { signal: ac.signal });
  pumped.then(
    () => (settled = true),
    () => (settled = true),
  );
  ac.signal.addEventListener('abort', () => {
    setTimeout(() => {
      report.whileInFlight = { settled, chunks: seen.length, freed: freed() };
      openSync(fifo, 'w'); // lets the pool thread go: the queued job runs now
    }, 200);
  });
  pumped.then(
    () => res.end('ok'),
    () => {
      report.afterAbort = { chunks: seen.length, freed: freed() };
      res.writeHead(500).end();
    },
  );
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
try {
  const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', body });
  await r.arrayBuffer();
} catch (e) {
  report.fetch = String(e);
}
await sleep(100);
await fh.close();
const stored = readFileSync(path);
report.stored = stored.length;
report.storedIsPrefix = body.subarray(0, stored.length).equals(stored);
server.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(report));
