/**
 * Crash safety: the server (a child process) is killed with SIGKILL during pushes, and GC (the
 * `nitro-registry gc` CLI on the same data directory, server stopped) is killed with SIGKILL during sweeps.
 * After every kill: each blob record has its file, each link its record, and every acknowledged tag
 * pulls completely from a restarted server. A final GC finishes the job: exactly the reachable blobs
 * remain, as records and as files (orphans left by a kill are removed).
 * Needs `npm run build` (bin/nitro-registry.js runs the compiled code; `npm test` builds first).
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Client, sha256, type PushedImage } from './client.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = join(ROOT, 'bin/nitro-registry.js');
const BUILT = [join(ROOT, 'build/reference-server/src/cli.js'), join(ROOT, 'build/reference-server/src/gc/cli.js')];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rnd = (n: number) => Math.floor(Math.random() * n);
const POOL = Array.from({ length: 6 }, (_, i) => Buffer.alloc(3000 + i * 700, `pool-${i}-`));

async function startServer(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--data', dir, '--no-auth', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((res, rej) => {
    // Generous (a loaded 2-core machine can take many seconds to start Node); on expiry the process is
    // killed, else its stderr pipe would keep this test process alive with nobody to stop it.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`server did not start: ${err}`));
    }, 60_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /nitro-registry listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    proc.once('exit', (code) => rej(new Error(`server exited with ${code}: ${err}`)));
  });
  proc.stderr!.resume();
  return { url, proc };
}

async function kill9(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

/** Offline invariant check straight on the database (WAL recovery happens on open). */
function invariantProblems(dir: string): string[] {
  const db = new Database(join(dir, 'registry.db'), { readonly: true });
  try {
    const problems: string[] = [];
    for (const { digest } of db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]) {
      if (!existsSync(join(dir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)))) problems.push(`record without file ${digest}`);
    }
    const n = (db.prepare('SELECT COUNT(*) AS n FROM repo_blobs l WHERE NOT EXISTS(SELECT 1 FROM blobs b WHERE b.digest = l.digest)').get() as { n: number }).n;
    if (n > 0) problems.push(`${n} link(s) without record`);
    return problems;
  } finally {
    db.close();
  }
}

/** Blob records + blob links + manifests: what a sweep removes, to tell where a kill landed. */
const rowCount = (dir: string): number => {
  const db = new Database(join(dir, 'registry.db'), { readonly: true });
  try {
    return (db.prepare('SELECT (SELECT COUNT(*) FROM blobs) + (SELECT COUNT(*) FROM repo_blobs) + (SELECT COUNT(*) FROM manifests) AS n').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

function runGc(dir: string, args: string[]): { proc: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const proc = spawn(process.execPath, [BIN, 'gc', '--data', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NITRO_REGISTRY_LOG_LEVEL: 'warn' } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.resume();
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((r) => proc.once('exit', (code, signal) => r({ code, signal, out })));
  return { proc, done };
}

t.test('kill -9 during pushes and during GC loses nothing acknowledged; the next GC finishes the job', { skip: BUILT.every(existsSync) ? false : 'run `npm run build` first (bin/nitro-registry.js runs build/)' }, async (t) => {
  // A unique directory (not t.testdir()): two runs of the suite at once must not share a data directory.
  const dir = mkdtempSync(join(tmpdir(), 'nitro-gc-crash-'));
  const expected = new Map<string, PushedImage>(); // name:tag → acknowledged image
  /** Tags whose push or delete was in flight when a kill landed: they may or may not have committed. */
  const uncertain = new Set<string>();
  const deleted: PushedImage[] = [];
  const figures = { pushRounds: 0, acknowledged: 0, killedRequests: 0, gcKills: 0, gcKillsMidSweep: 0, rowsSweptBeforeKills: 0, finalGc: null as unknown, lost: 0 };
  let server: { url: string; proc: ChildProcess } | null = null;
  t.teardown(async () => {
    if (server) await kill9(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  async function verify(when: string): Promise<void> {
    const c = new Client(server!.url);
    for (const [key, img] of expected) {
      const problems = await c.pullProblems(img.name, key.slice(key.lastIndexOf(':') + 1), img.digest);
      if (problems.length > 0) {
        figures.lost++;
        t.fail(`${when}: ${key} does not pull completely`, { problems });
      }
    }
  }

  // --- 1. kill -9 during pushes (3 rounds) -----------------------------------------------------------
  for (let round = 0; round < 3; round++) {
    server = await startServer(dir);
    await verify(`after restart ${round}`);
    const c = new Client(server.url);
    let dead = false;
    const worker = async (w: number) => {
      for (let n = 0; !dead && n < 200; n++) {
        const name = ['crash/a', 'crash/b'][rnd(2)]!;
        const tag = `r${round}-w${w}-${n}`;
        try {
          if (n % 7 === 6 && expected.size > 0) {
            const [key, img] = [...expected][rnd(expected.size)]!;
            expected.delete(key); // whatever the answer, this tag is no longer a promise
            for (const [k, v] of [...expected, [key, img] as const]) if (v.name === img.name && v.digest === img.digest) uncertain.add(k);
            if ((await c.deleteManifest(img.name, img.digest)) === 202) {
              for (const [k, v] of expected) if (v.name === img.name && v.digest === img.digest) expected.delete(k);
              deleted.push(img);
            }
            continue;
          }
          uncertain.add(`${name}:${tag}`); // until acknowledged: a kill may land after the commit, before the answer
          const img = await c.pushImage(name, tag, Buffer.from(`{"c":"${tag}"}`), [POOL[rnd(POOL.length)]!, Buffer.from(`unique ${tag} `.repeat(50))], {
            style: (i) => (i === 1 ? 'chunked' : 'monolithic'),
          });
          expected.set(`${name}:${tag}`, img);
          figures.acknowledged++;
        } catch {
          figures.killedRequests++;
          return; // the server died under us: this push was never acknowledged
        }
      }
    };
    const workers = Promise.all([0, 1, 2].map(worker));
    // Kill once a random number of pushes was acknowledged in this round (bounded by count, not time: a
    // busy CI machine is slower, never a reason to fail), so the kill lands mid-push at varying points.
    const ackedBefore = figures.acknowledged;
    const target = 4 + rnd(5);
    const giveUp = Date.now() + 120_000;
    while (figures.acknowledged - ackedBefore < target && Date.now() < giveUp) await sleep(5);
    await sleep(rnd(50));
    dead = true;
    await kill9(server.proc);
    await workers;
    figures.pushRounds++;
    t.same(invariantProblems(dir), [], `round ${round}: consistent after kill -9 during pushes`);
  }
  server = await startServer(dir);
  await verify('after the push rounds');

  // --- 2. make garbage: delete half the images, upload blobs no manifest will reference -------------
  const c = new Client(server.url);
  for (const [key, img] of [...expected].filter((_, i) => i % 2 === 0)) {
    if ((await c.deleteManifest(img.name, img.digest)) === 202) {
      for (const [k, v] of expected) if (v.name === img.name && v.digest === img.digest) expected.delete(k);
      deleted.push(img);
    } else expected.delete(key);
  }
  const garbage = Array.from({ length: 600 }, (_, i) => Buffer.from(`garbage blob ${i} `.repeat(4)));
  for (let i = 0; i < garbage.length; i += 16) {
    await Promise.all(garbage.slice(i, i + 16).map((g) => c.pushBlob('crash/junk', g, 'monolithic')));
  }
  await kill9(server.proc);
  server = null;

  // --- 3. kill -9 during GC (offline CLI). Each round kills once the sweep has removed `target` rows, so
  // kills land at different points: early in the link phase, late in it, in the blob phase.
  for (const [round, target] of [1, 200, 700, 900].entries()) {
    const before = rowCount(dir);
    const gc = runGc(dir, ['--grace-seconds', '0', '--delete-untagged']);
    const deadline = Date.now() + 20_000;
    while (gc.proc.exitCode === null && Date.now() < deadline && before - rowCount(dir) < target) await sleep(5);
    await kill9(gc.proc);
    const result = await gc.done;
    const after = rowCount(dir);
    figures.gcKills++;
    if (result.signal === 'SIGKILL' && after < before) figures.gcKillsMidSweep++;
    figures.rowsSweptBeforeKills += before - after;
    t.same(invariantProblems(dir), [], `gc kill ${round} (${before - after} rows swept before the kill, ${after} left): consistent`);
    server = await startServer(dir);
    await verify(`after gc kill ${round}`);
    await kill9(server.proc);
    server = null;
  }

  // --- 4. the next run finishes the job ------------------------------------------------------------------
  const final = await runGc(dir, ['--grace-seconds', '0', '--delete-untagged', '--json']).done;
  t.equal(final.code, 0, 'final gc succeeds');
  figures.finalGc = JSON.parse(final.out.trim().split('\n').pop()!);
  const reachable = new Set([...expected.values()].flatMap((i) => i.blobs));
  const db = new Database(join(dir, 'registry.db'), { readonly: true });
  const records = (db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]).map((r) => r.digest).sort();
  const referenced = (db.prepare("SELECT DISTINCT child FROM manifest_refs WHERE kind = 'blob'").pluck().all() as string[]).sort();
  const tagsLeft = (db.prepare('SELECT repository, tag FROM tags').all() as { repository: string; tag: string }[]).map((r) => `${r.repository}:${r.tag}`);
  db.close();
  const files: string[] = [];
  const root = join(dir, 'blobs', 'sha256');
  for (const fan of readdirSync(root)) for (const f of readdirSync(join(root, fan))) files.push(`sha256:${f}`);
  t.same([...reachable].filter((d) => !records.includes(d)), [], 'every blob of an acknowledged tag is recorded');
  // A push or delete cut by a kill may have committed without its answer: such tags may remain, nothing else.
  t.same(tagsLeft.filter((k) => !expected.has(k) && !uncertain.has(k)), [], 'tags left = acknowledged ones + operations cut by a kill');
  t.same(records, referenced, 'records = blobs the remaining manifests reference: GC left no garbage');
  t.same(files.sort(), records, 'files = records: no orphan, deleted content gone');
  server = await startServer(dir);
  await verify('after the final gc');
  const cc = new Client(server.url);
  let notGone = 0;
  for (const img of deleted) if ((await cc.manifestStatus(img.name, img.digest)) !== 404) notGone++;
  t.equal(notGone, 0, `${deleted.length} deleted manifests answer 404`);
  t.ok(garbage.every((g) => !reachable.has(sha256(g))), 'garbage blobs were never reachable');
  t.comment(`gc crash: ${JSON.stringify(figures)}`);
  t.equal(figures.lost, 0, '0 acknowledged tags lost');
  t.ok(figures.gcKillsMidSweep >= 2, `kills landed mid-sweep (${figures.gcKillsMidSweep})`);
  t.ok(figures.acknowledged >= 12, `pushes were acknowledged before kills (${figures.acknowledged})`);
});
