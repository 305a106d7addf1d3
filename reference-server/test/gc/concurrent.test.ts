/**
 * Concurrency: several clients push images that share layers (monolithic, chunked and mounted blobs,
 * indexes, referrers), re-tag and delete, over HTTP, while GC runs in a loop with a 0–1 s grace period
 * and sometimes delete-untagged. Bounded by a count of operations (GC_STRESS_OPS per worker, default 40), never
 * by time: a slow machine does the same work, just later, and no figure per second is asserted.
 *
 * Checked: during the run, every blob record and link has its file (sampled continuously); afterwards
 * every acknowledged tag — and every referrer of a live subject — pulls completely with the right
 * digests, and after a final GC exactly the reachable blobs remain (records and files), deleted
 * manifests are gone.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createRegistry } from '../../src/server.js';
import { createGcServices } from '../../src/gc/index.js';
import type { SqliteBackend } from '../../src/metadata/sqlite/index.js';
import { Client, PushError, sha256, type PushedImage } from './client.js';

const OPS_PER_WORKER = Number(process.env.GC_STRESS_OPS ?? 40);
const WORKERS = 4;
/** GC runs that overlap the pushes at least (the loop keeps going after the workers until this many). */
const MIN_GC_RUNS = 5;
const MAX_ATTEMPTS = 8;
const NAMES = ['proj-a/app', 'proj-b/app', 'shared/base'];

/** Deterministic pseudo-random bytes, so shared layers are identical across workers. */
function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = Buffer.from(seed);
  for (let off = 0; off < size; off += 32) {
    block = Buffer.from(sha256(block).slice(7), 'hex');
    block.copy(out, off);
  }
  return out;
}
const POOL = Array.from({ length: 8 }, (_, i) => bytes(`shared-layer-${i}`, 2048 + i * 1024));

t.test('GC in a loop while clients push, re-tag and delete: no acknowledged tag loses anything', async (t) => {
  const dir = t.testdir();
  const registry = await createRegistry({ data: dir, log_level: 'silent', auth: { enabled: false } }, { log: pino({ level: 'silent' }) });
  const meta = registry.deps.meta;
  const db = (registry.backends.metadata as SqliteBackend).db;
  const services = createGcServices({ gcStore: registry.backends.metadata.gc, meta, blobs: registry.deps.blobs, uploads: registry.deps.uploads, config: registry.config, schedule: false });
  const server = createServer(registry.handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await services.close();
    await registry.close();
  });
  const client = new Client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);

  const expected = new Map<string, PushedImage>(); // "name:tag" → image
  const deleted: PushedImage[] = [];
  const referrers: { subjectKey: string; subjectDigest: string; image: PushedImage }[] = [];
  const figures = { pushes: 0, indexes: 0, referrers: 0, retags: 0, tagDeletes: 0, manifestDeletes: 0, racesLost: 0, gaveUp: 0 };
  const gcTotals = { runs: 0, dryRuns: 0, manifests: 0, links: 0, blobs: 0, bytes: 0 };
  const violations: string[] = [];
  let stop = false;

  const rnd = (n: number) => Math.floor(Math.random() * n);
  /** Retries a push that lost a race with GC (MANIFEST_BLOB_UNKNOWN / BLOB_UNKNOWN on mount...). */
  async function withRetry<T>(fn: () => Promise<T>): Promise<T | null> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof PushError && e.status === 400 && e.code === 'MANIFEST_BLOB_UNKNOWN') {
          figures.racesLost++;
          continue;
        }
        throw e;
      }
    }
    figures.gaveUp++;
    return null;
  }

  async function worker(w: number): Promise<void> {
    let n = 0;
    const own = () => [...expected.entries()].filter(([k]) => k.includes(`:w${w}-`));
    while (n < OPS_PER_WORKER) {
      n++;
      // The kind of operation cycles by count (so every run does each kind in the same proportion);
      // names, tags and layers stay random.
      const r = ((n * 7 + w * 3) % 20) / 20;
      const name = NAMES[rnd(NAMES.length)]!;
      const style = (i: number) => (i % 3 === 2 ? { mountFrom: NAMES[rnd(NAMES.length)]! } : i % 3 === 1 ? ('chunked' as const) : ('monolithic' as const));
      if (r < 0.45 || own().length === 0) {
        const tag = `w${w}-t${rnd(3)}`;
        const layers = [POOL[rnd(POOL.length)]!, POOL[rnd(POOL.length)]!, bytes(`w${w}-${n}-unique`, 1500)];
        const img = await withRetry(() => client.pushImage(name, tag, Buffer.from(`{"config":"w${w}-${n}"}`), layers, { style }));
        if (img) {
          expected.set(`${name}:${tag}`, img);
          figures.pushes++;
        }
      } else if (r < 0.55) {
        const img = await withRetry(async () => {
          const a = await client.pushImage(name, null, Buffer.from(`{"arch":"amd64","n":"w${w}-${n}"}`), [POOL[rnd(POOL.length)]!, bytes(`w${w}-${n}-amd`, 900)], { style });
          const b = await client.pushImage(name, null, Buffer.from(`{"arch":"arm64","n":"w${w}-${n}"}`), [POOL[rnd(POOL.length)]!, bytes(`w${w}-${n}-arm`, 900)], { style });
          return client.pushIndex(name, `w${w}-idx`, [a, b]);
        });
        if (img) {
          expected.set(`${name}:w${w}-idx`, img);
          figures.indexes++;
        }
      } else if (r < 0.65) {
        const [key, subject] = own()[rnd(own().length)]!;
        const sig = await withRetry(() =>
          client.pushImage(subject.name, null, Buffer.from(`{"sig":"w${w}-${n}"}`), [bytes(`w${w}-${n}-sig`, 300)], { subject, artifactType: 'application/vnd.example.signature' }),
        );
        if (sig) {
          referrers.push({ subjectKey: key, subjectDigest: subject.digest, image: sig });
          figures.referrers++;
        }
      } else if (r < 0.8) {
        const [, img] = own()[rnd(own().length)]!;
        const tag = `w${w}-t${rnd(3)}`;
        // Re-tagging an existing tagged manifest: its references are kept, so this must never fail.
        await client.putManifest(img.name, tag, img.body, img.mediaType);
        expected.set(`${img.name}:${tag}`, img);
        figures.retags++;
      } else if (r < 0.9) {
        const [key] = own()[rnd(own().length)]!;
        const [nm, tag] = [key.slice(0, key.lastIndexOf(':')), key.slice(key.lastIndexOf(':') + 1)];
        const status = await client.deleteManifest(nm, tag);
        if (status !== 202) violations.push(`DELETE ${key} → ${status}`);
        expected.delete(key);
        figures.tagDeletes++;
      } else {
        const [, img] = own()[rnd(own().length)]!;
        const status = await client.deleteManifest(img.name, img.digest);
        if (status !== 202) violations.push(`DELETE ${img.name}@${img.digest} → ${status}`);
        for (const [k, v] of expected) if (v.name === img.name && v.digest === img.digest) expected.delete(k);
        deleted.push(img);
        figures.manifestDeletes++;
      }
    }
  }

  async function gcLoop(): Promise<void> {
    while (!stop || gcTotals.runs < MIN_GC_RUNS) {
      const dryRun = Math.random() < 0.1;
      const r = await services.gc.run({ graceSeconds: rnd(2), deleteUntagged: Math.random() < 0.5, dryRun, orphanFiles: Math.random() < 0.2 });
      gcTotals.runs++;
      if (dryRun) gcTotals.dryRuns++;
      else {
        gcTotals.manifests += r.manifests_deleted;
        gcTotals.links += r.links_deleted;
        gcTotals.blobs += r.blobs_deleted;
        gcTotals.bytes += r.bytes_freed;
      }
      await new Promise((res) => setTimeout(res, rnd(30)));
    }
  }

  const blobFile = (d: string) => join(dir, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));
  // Sampled synchronously, so it sees a state between two whole operations.
  const invariant = setInterval(() => {
    for (const { digest } of db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]) {
      if (!existsSync(blobFile(digest))) violations.push(`record without file: ${digest}`);
    }
    const dangling = (db.prepare('SELECT COUNT(*) AS n FROM repo_blobs l WHERE NOT EXISTS(SELECT 1 FROM blobs b WHERE b.digest = l.digest)').get() as { n: number }).n;
    if (dangling > 0) violations.push(`${dangling} link(s) without a blob record`);
  }, 50);

  const started = Date.now();
  const gcDone = gcLoop();
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  stop = true;
  await gcDone;
  clearInterval(invariant);
  t.same(violations, [], 'no record without its file, no link without its record, deletes answered 202');

  async function verifyAll(when: string): Promise<number> {
    let lost = 0;
    for (const [key, img] of expected) {
      const tag = key.slice(key.lastIndexOf(':') + 1);
      const problems = await client.pullProblems(img.name, tag, img.digest);
      if (problems.length > 0) {
        lost++;
        t.fail(`${when}: ${key} does not pull completely`, { problems });
      }
    }
    for (const ref of referrers) {
      if (expected.get(ref.subjectKey)?.digest !== ref.subjectDigest) continue;
      const problems = await client.pullProblems(ref.image.name, ref.image.digest, ref.image.digest);
      if (problems.length > 0) {
        lost++;
        t.fail(`${when}: referrer of ${ref.subjectKey} does not pull completely`, { problems });
      }
    }
    return lost;
  }
  const runMs = Date.now() - started;
  const lostBefore = await verifyAll('after the run');

  // Final GC: nothing pushes now; with grace 0 and delete-untagged exactly the reachable content stays.
  const final = await services.gc.run({ graceSeconds: 0, deleteUntagged: true });
  const lostAfter = await verifyAll('after the final GC');
  const reachable = new Set<string>();
  const live = new Set([...expected.values()].map((i) => `${i.name}@${i.digest}`));
  for (const img of expected.values()) for (const b of img.blobs) reachable.add(b);
  for (const ref of referrers) if (live.has(`${ref.image.name}@${ref.subjectDigest}`)) for (const b of ref.image.blobs) reachable.add(b);
  const records = new Set((db.prepare('SELECT digest FROM blobs').all() as { digest: string }[]).map((r) => r.digest));
  const files = new Set<string>();
  const root = join(dir, 'blobs', 'sha256');
  for (const fan of existsSync(root) ? readdirSync(root) : []) for (const f of readdirSync(join(root, fan))) files.add(`sha256:${f}`);
  t.same([...records].sort(), [...reachable].sort(), 'blob records = blobs reachable from acknowledged tags (and their referrers)');
  t.same([...files].sort(), [...reachable].sort(), 'blob files = the same set: deleted content is really gone');
  let stillThere = 0;
  for (const img of deleted) if (!live.has(`${img.name}@${img.digest}`) && (await client.manifestStatus(img.name, img.digest)) !== 404) stillThere++;
  t.equal(stillThere, 0, `all ${deleted.length} deleted manifests answer 404`);

  const report = { runMs, verifyMs: Date.now() - started - runMs, workers: WORKERS, ...figures, tagsVerified: expected.size, gc: gcTotals, finalGc: final, lost: lostBefore + lostAfter };
  t.comment(`gc stress: ${JSON.stringify(report)}`);
  t.equal(lostBefore + lostAfter, 0, '0 acknowledged tags lost');
  t.ok(figures.pushes + figures.indexes > 0 && figures.tagDeletes + figures.manifestDeletes > 0, `every kind of operation ran (${JSON.stringify(figures)})`);
  t.ok(gcTotals.runs >= MIN_GC_RUNS && gcTotals.blobs + final.blobs_deleted > 0, `GC really ran and swept (${gcTotals.runs} runs, ${gcTotals.blobs} + ${final.blobs_deleted} blobs)`);
});
