/**
 * Disk full (issue 12, item 6), on a real 8 MiB tmpfs: pushes until the disk is full get 507 with an OCI
 * error body (never 500), nothing acknowledged is lost, /readyz reports it, and once space is freed the
 * same server (no restart) takes pushes again and the interrupted chunked session resumes.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { randomBlob } from './helpers/oci.js';
import { errorCodes } from './helpers/registry.js';
import { waitUntil } from './helpers/processes.js';
import { ADMIN, limitsFixture, timed } from './helpers/limits.js';

const MiB = 1024 * 1024;

/** Mounts an 8 MiB tmpfs, unmounted at teardown (needs root, checked below). */
function mountTmpfs(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
  t.teardown(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

// Skipped, with the reason shown, where mounting is not permitted (not root, no CAP_SYS_ADMIN).
const probe = mkdtempSync(join(tmpdir(), 'nitro-diskfull-probe-'));
let canMount: string | true = true;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
  execFileSync('umount', [probe], { stdio: 'pipe' });
} catch (e) {
  canMount = `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]}); run as root to test disk-full handling`;
}
rmSync(probe, { recursive: true, force: true });

t.test('disk full: 507 with an OCI body, nothing acknowledged lost, readyz reports it, recovery without restart', { skip: canMount === true ? false : canMount }, async (t) => {
  const mounted = mountTmpfs(t);
  const dataDir = join(mounted, 'data');
  const { url, logLines } = await limitsFixture(t, { limits: { min_free_disk_bytes: MiB } }, dataDir);
  // Ballast we can delete later to "free space".
  const ballast = join(mounted, 'ballast');
  writeFileSync(ballast, randomBytes(3 * MiB));

  // A chunked session with acknowledged chunks; it will hit the full disk later.
  const start = await timed([], `${url}/v2/full/chunked/blobs/uploads/`, { method: 'POST', headers: { Authorization: ADMIN } });
  t.equal(start.status, 202);
  const session = start.headers.get('location')!;
  const chunked: Buffer[] = [];
  let chunkedOffset = 0;
  const patch = async (bytes: Buffer) =>
    timed([], `${url}${session}`, {
      method: 'PATCH',
      headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream', 'Content-Range': `${chunkedOffset}-${chunkedOffset + bytes.length - 1}` },
      body: bytes,
    });
  const first = randomBytes(300 * 1024);
  t.equal((await patch(first)).status, 202);
  chunked.push(first);
  chunkedOffset += first.length;

  // Push 256 KiB blobs (monolithic) and 256 KiB chunks until the disk refuses.
  const acknowledged: { digest: string; bytes: Buffer }[] = [];
  const statuses: number[] = [];
  let full: { status: number; body: Buffer; headers: Headers } | null = null;
  let chunkRefused: { status: number; body: Buffer } | null = null;
  for (let i = 0; i < 60 && !(full && chunkRefused); i++) {
    if (!full) {
      const b = randomBlob(256 * 1024);
      const r = await timed([], `${url}/v2/full/app/blobs/uploads/?digest=${encodeURIComponent(b.digest)}`, {
        method: 'POST',
        headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream' },
        body: b.bytes,
      });
      statuses.push(r.status);
      if (r.status === 201) acknowledged.push({ digest: b.digest, bytes: b.bytes });
      else full = r;
    }
    if (!chunkRefused) {
      const c = randomBytes(256 * 1024);
      const r = await patch(c);
      statuses.push(r.status);
      if (r.status === 202) {
        chunked.push(c);
        chunkedOffset += c.length;
        t.equal(r.headers.get('range'), `0-${chunkedOffset - 1}`);
      } else chunkRefused = r;
    }
  }
  t.comment(`pushes until full: ${acknowledged.length} blobs acknowledged, chunked session at ${chunkedOffset} bytes, statuses ${JSON.stringify(statuses)}`);
  t.ok(full, 'a monolithic push was refused');
  t.ok(chunkRefused, 'a chunk was refused');
  t.notOk(statuses.some((s) => s >= 500 && s !== 507), 'no 5xx other than 507');
  for (const r of [full!, chunkRefused!]) {
    t.equal(r.status, 507, '507 Insufficient Storage');
    const body = JSON.parse(r.body.toString()) as { errors: { code: string; message: string }[] };
    t.same(errorCodes(body), ['UNKNOWN'], 'OCI error body, code UNKNOWN (the spec has none for this)');
    t.match(body.errors[0]!.message, /insufficient storage/);
  }

  // /readyz says why.
  await waitUntil('readyz reports the disk', async () => {
    const r = await timed([], `${url}/readyz`);
    const checks = (JSON.parse(r.body.toString()) as { checks: Record<string, string> }).checks;
    return r.status === 503 && /low disk/.test(checks.disk ?? '');
  });

  // Nothing acknowledged is lost.
  for (const a of acknowledged) {
    const r = await timed([], `${url}/v2/full/app/blobs/${a.digest}`, { headers: { Authorization: ADMIN } });
    t.equal(r.status, 200);
    t.equal(`sha256:${createHash('sha256').update(r.body).digest('hex')}`, a.digest, `blob ${a.digest.slice(7, 19)} reads back intact`);
  }
  const status = await timed([], `${url}${session}`, { headers: { Authorization: ADMIN } });
  t.equal(status.headers.get('range'), `0-${chunkedOffset - 1}`, 'the session kept exactly its acknowledged chunks');

  const fullLines = logLines.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('storage full'));
  t.equal(fullLines.length, 1, 'logged once as storage full (repeats within a minute are counted, not logged)');
  t.notOk(
    logLines.some((l) => l.msg === 'unhandled error'),
    'never logged as an unhandled error',
  );

  // Free space: the same server recovers.
  rmSync(ballast);
  await waitUntil('readyz recovers', async () => (await timed([], `${url}/readyz`)).status === 200);
  const again = randomBlob(256 * 1024);
  const r = await timed([], `${url}/v2/full/app/blobs/uploads/?digest=${encodeURIComponent(again.digest)}`, {
    method: 'POST',
    headers: { Authorization: ADMIN, 'Content-Type': 'application/octet-stream' },
    body: again.bytes,
  });
  t.equal(r.status, 201, 'a push succeeds once space is freed');
  const last = randomBytes(1000);
  t.equal((await patch(last)).status, 202, 'the interrupted session resumes at its offset');
  chunked.push(last);
  const all = Buffer.concat(chunked);
  const digest = `sha256:${createHash('sha256').update(all).digest('hex')}`;
  const done = await timed([], `${url}${session}?digest=${encodeURIComponent(digest)}`, { method: 'PUT', headers: { Authorization: ADMIN } });
  t.equal(done.status, 201, 'and commits with the digest of every acknowledged byte');
  const back = await timed([], `${url}/v2/full/chunked/blobs/${digest}`, { headers: { Authorization: ADMIN } });
  t.ok(back.body.equals(all));
});
