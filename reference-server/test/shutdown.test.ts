/**
 * Shutdown (issue 12, item 7): SIGTERM to a `nitro-registry serve` process while four chunked uploads are
 * mid-chunk. At the end of the grace period each client gets 503 with Retry-After (or a closed
 * connection), never a 500; after a restart all four sessions resume and commit with the right digests.
 *
 * Needs `npm run build` (bin/nitro-registry.js runs the compiled code; `npm test` builds first).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, freePort, httpStatus, sleep, stopChild, tailOf, waitUntil, running } from './helpers/processes.js';
import { rawClient, statusOf, timed } from './helpers/limits.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'nitro-registry.js');

async function serve(t: { teardown(fn: () => unknown): void }, config: string, port: number): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config, '--listen', `127.0.0.1:${port}`, '--no-auth'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const out = tailOf(child.stdout, 20_000);
  const err = tailOf(child.stderr);
  t.teardown(() => stopChild(child, 'SIGKILL'));
  await waitUntil('registry up', async () => (await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200, {
    gaveUp: () => (running(child) ? undefined : `exited: ${err()}`),
  });
  return { child, log: () => out() + err() };
}

t.test('SIGTERM during 4 chunked uploads: 503 + Retry-After or a closed connection; all resume after restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `data: ${join(dir, 'data')}\nshutdown_grace_seconds: 1\nlog_level: info\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const first = await serve(t, config, port);

  // Four sessions, each with one acknowledged chunk, then a chunk that is still arriving at SIGTERM.
  const uploads = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const start = await timed([], `${url}/v2/shutdown/app${i}/blobs/uploads/`, { method: 'POST' });
      const location = start.headers.get('location')!;
      const head = randomBytes(100_000 + i);
      const r = await timed([], `${url}${location}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `0-${head.length - 1}` },
        body: head,
      });
      if (r.status !== 202) throw new Error(`chunk → ${r.status}`);
      return { location, head, rest: randomBytes(400_000) };
    }),
  );
  const stuck = await Promise.all(
    uploads.map(async (u) => {
      const c = await rawClient(url);
      c.socket.write(
        `PATCH ${u.location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Range: ${u.head.length}-${u.head.length + u.rest.length - 1}\r\nContent-Length: ${u.rest.length}\r\n\r\n`,
      );
      c.socket.write(u.rest.subarray(0, 50_000)); // part of the chunk; the rest never comes
      return c;
    }),
  );
  await sleep(500); // the server is now writing those chunks
  const signalled = Date.now();
  process.kill(first.child.pid!, 'SIGTERM');
  const closedAfter = await Promise.all(stuck.map((c) => Promise.race([c.closed, sleep(30_000).then(() => -1)])));
  await exited(first.child);
  t.comment(`grace 1 s; clients closed ${closedAfter.map((ms) => `${ms}ms`).join(', ')} after connecting; process exited ${Date.now() - signalled} ms after SIGTERM with code ${first.child.exitCode}`);

  for (const [i, c] of stuck.entries()) {
    const text = c.received();
    const status = statusOf(text);
    t.ok(closedAfter[i]! >= 0, `client ${i}: connection closed`);
    t.ok(status === undefined || status === 503, `client ${i}: 503 or a closed connection, got ${status ?? 'closed'}`);
    if (status === 503) {
      t.match(text, /\r\nretry-after: \d+\r\n/i, `client ${i}: Retry-After`);
      t.match(text, /"code":"UNKNOWN".*shutting down/, `client ${i}: an OCI error body that says why`);
    }
  }
  t.notMatch(first.log(), /unhandled error/, 'no unhandled error logged');
  t.notMatch(first.log(), /"status":500/, 'no request logged with status 500');

  // Restart on the same data directory and port: every session resumes from its acknowledged offset.
  await serve(t, config, port);
  for (const [i, u] of uploads.entries()) {
    const status = await timed([], `${url}${u.location}`);
    t.equal(status.status, 204, `session ${i} survived`);
    t.equal(status.headers.get('range'), `0-${u.head.length - 1}`, `session ${i}: only the acknowledged chunk counts`);
    const r = await timed([], `${url}${u.location}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${u.head.length}-${u.head.length + u.rest.length - 1}` },
      body: u.rest,
    });
    t.equal(r.status, 202, `session ${i}: the interrupted chunk is sent again`);
    const digest = `sha256:${createHash('sha256').update(Buffer.concat([u.head, u.rest])).digest('hex')}`;
    const done = await timed([], `${url}${u.location}?digest=${encodeURIComponent(digest)}`, { method: 'PUT' });
    t.equal(done.status, 201, `session ${i}: committed`);
    const back = await timed([], `${url}/v2/shutdown/app${i}/blobs/${digest}`);
    t.equal(`sha256:${createHash('sha256').update(back.body).digest('hex')}`, digest, `session ${i}: reads back with its digest`);
  }
});
