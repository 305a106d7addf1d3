#!/usr/bin/env node
// Benchmark: the reference server (nitro) against CNCF Distribution 2.8, in one run.
// Starts both registries on random loopback ports with temp data dirs, sets up the same
// fixtures in each, then runs every operation round after round, alternating the
// targets (order flipped every round) and reporting medians of throughput and of
// server CPU ms per operation (read from /proc/PID/stat around each measurement).
// See bench/README.md. Usage: node bench/run.mjs [--quick] [--targets a,b] [--rounds N]
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from './lib/http-client.mjs';
import { measureMemory, measureMemoryParallel } from './lib/memory.mjs';
import { OPERATIONS, makeFixtures, setupTarget } from './lib/operations.mjs';
import { CPU_TICK_MS, cpuMs, memKiB } from './lib/proc-stats.mjs';
import { consoleTable, markdown, summarise, throughput } from './lib/report.mjs';
import { PROFILES } from './lib/profiles.mjs';
import { DISTRIBUTION_BIN, startTarget } from './lib/servers.mjs';
import { createBenchBucket, s3EnvOrThrow } from './lib/s3.mjs';

const MiB = 1 << 20;
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');
// The operations the floor target answers (and the only ones a big-blob-only setup prepares for).
const BIG_BLOB_OP = /^blob-(push|get-big)/;
const AFTER_ROUNDS_IDLE_MS = 10_000;

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string', default: 'distribution,nitro' },
    rounds: { type: 'string' },
    ops: { type: 'string' },
    'loop-ms': { type: 'string' },
    'deadline-min': { type: 'string' },
    'no-memory': { type: 'boolean', default: false },
    'node-http': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    storage: { type: 'string', default: 'filesystem' },
    'deadline-s': { type: 'string' },
    redirect: { type: 'boolean', default: false },
    out: { type: 'string', default: join(here, 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(`usage: node bench/run.mjs [options]
  --quick               ~1 minute smoke run (small blobs, short loops, 2 rounds)
  --targets A,B         target kinds, first is the baseline (default distribution,nitro;
                        distribution,distribution checks the harness: ratios should be ~1;
                        floor = bare node:http blob server, only for the blob-push*/blob-get-big* ops;
                        nitro-pg = nitro with its metadata in a fresh PostgreSQL database on
                        NITRO_TEST_DATABASE_URL)
  --rounds N            rounds per operation (default 5; quick 2)
  --ops a,b             only these operations (names as in the table)
  --loop-ms MS          time bound of each request loop (default 3000; quick 700)
  --deadline-min M      stop starting new rounds after M minutes (default 15; quick 4)
  --no-memory           skip the big-blob memory check
  --node-http           use node:http instead of undici for the load generator
  --keep                keep the servers' temp data dirs and logs
  --storage s3          blobs in S3 for both targets (a bucket each on NITRO_TEST_S3_ENDPOINT;
                        nitro on storage.driver s3 + SQLite, Distribution on its s3aws driver)
  --redirect            with --storage s3: blob GETs answered 307 to presigned URLs (both targets),
                        followed by the load generator
  --out DIR             where latest.json / latest.md go (default bench/results)
  --deadline-s S        no new round starts after S seconds (default: the profile's; S3 runs are slower)`);
  process.exit(0);
}

const cfg = { ...(opts.quick ? PROFILES.quick : PROFILES.full) };
if (opts.rounds) cfg.rounds = Math.max(1, Number(opts.rounds));
if (opts['deadline-min']) cfg.deadlineMs = Number(opts['deadline-min']) * 60_000;
if (opts['loop-ms']) cfg.loopMs = Math.max(100, Number(opts['loop-ms']));
if (opts['deadline-s']) cfg.deadlineMs = Math.max(10, Number(opts['deadline-s'])) * 1000;
const kinds = opts.targets.split(',').map((s) => s.trim()).filter(Boolean);
const operations = opts.ops ? OPERATIONS.filter((o) => opts.ops.split(',').includes(o.name)) : OPERATIONS;
if (operations.length === 0) throw new Error(`--ops matched nothing; names: ${OPERATIONS.map((o) => o.name).join(', ')}`);

const log = (msg) => process.stderr.write(`${msg}\n`);
if (opts.storage !== 'filesystem' && opts.storage !== 's3') throw new Error('--storage must be filesystem or s3');
if (opts.redirect && opts.storage !== 's3') throw new Error('--redirect needs --storage s3');
const s3Env = opts.storage === 's3' ? s3EnvOrThrow() : null;
/** Buckets created for this run (removed at the end). */
const buckets = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + cfg.deadlineMs;

function targetNames(list) {
  const seen = {};
  return list.map((k) => {
    seen[k] = (seen[k] ?? 0) + 1;
    return seen[k] === 1 ? k : `${k}-${seen[k]}`;
  });
}

function versionOf(kind) {
  try {
    if (kind === 'floor') return process.version;
    if (kind === 'distribution') return execFileSync(DISTRIBUTION_BIN, ['--version']).toString().trim().split(' ').pop();
    return JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json").version)'], { cwd: repoRoot }).toString());
  } catch {
    return 'unknown';
  }
}

/** Runs one op once against one target, with server CPU read around it. */
async function measure(t, op, round, fx) {
  // Flush dirty pages (hundreds of MiB after a blob push) outside the measured window:
  // otherwise writeback lands on whichever op runs next and stalls its file creates/fsyncs.
  execFileSync('sync');
  const c0 = cpuMs(t.pid);
  const l0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await op.run({ client: t.client, fx, cfg, round, pushMode: t.pushMode });
  const wallMs = performance.now() - t0;
  // Let work the server finishes just after its last response land in the reading.
  await sleep(50);
  const serverCpuMs = cpuMs(t.pid) - c0;
  const lg = process.cpuUsage(l0);
  const loadgenCpuMs = (lg.user + lg.system) / 1000;
  const m = { round, count: r.count, bytes: r.bytes, wallMs: Math.round(wallMs), serverCpuMs, loadgenCpuMs: Math.round(loadgenCpuMs) };
  m.throughput = throughput(op.unit, m);
  m.cpuMsPerOp = r.count > 0 ? serverCpuMs / r.count : NaN;
  m.loadgenCpuMsPerOp = r.count > 0 ? loadgenCpuMs / r.count : NaN;
  if (r.note) m.note = r.note;
  return m;
}

const targets = [];
async function stopAll() {
  for (const t of targets) {
    await t.client?.close().catch(() => {});
    const t0 = performance.now();
    await t.stop({ keep: opts.keep }).catch(() => {});
    log(`stopped ${t.name} in ${Math.round(performance.now() - t0)} ms${opts.keep ? ` (kept ${t.workDir})` : ''}`);
  }
  for (const b of buckets.splice(0)) await b.remove().catch((e) => log(`removing bucket ${b.bucket}: ${e.message}`));
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`\n${sig}: stopping servers`);
    stopAll().finally(() => process.exit(130));
  });
}

async function main() {
  const startedAt = new Date().toISOString();
  log(`bench: profile ${opts.quick ? 'quick' : 'full'}, targets ${kinds.join(' vs ')}, ${cfg.rounds} rounds, CPU tick ${CPU_TICK_MS} ms, storage ${opts.storage}${opts.redirect ? ' (redirect)' : ''}`);
  let t0 = performance.now();
  const fx = makeFixtures(cfg);
  log(`fixtures: digests of ${2 * cfg.rounds + 2} big blobs streamed in ${Math.round(performance.now() - t0)} ms`);

  const names = targetNames(kinds);
  for (let i = 0; i < kinds.length; i++) {
    let s3 = null;
    if (s3Env) {
      const b = await createBenchBucket(s3Env, names[i]);
      buckets.push(b);
      s3 = { ...b, redirect: opts.redirect };
    }
    const t = await startTarget(kinds[i], names[i], { repoRoot, s3 });
    t.startOpts = { repoRoot, s3 };
    targets.push(t);
    t.version = versionOf(kinds[i]);
    t.client = await createClient(t.origin, { forceNodeHttp: opts['node-http'], followRedirects: opts.redirect });
    log(`started ${t.name} ${t.version} pid ${t.pid} on ${t.origin} (data ${t.dataDir})`);
  }

  for (const t of targets) {
    log(`setup ${t.name}:`);
    t0 = performance.now();
    try {
      // Only the big-blob fixture when nothing else is measured (or the target cannot take more): the
      // 5 000 tags and 1 000 repositories take minutes on a loaded machine.
      const bigBlobsOnly = t.kind === 'floor' || operations.every((o) => BIG_BLOB_OP.test(o.name));
      const s = await setupTarget(t.client, fx, { ...cfg, bigBlobsOnly }, log);
      t.pushMode = s.pushMode;
      t.setup = s.steps;
      log(`  push mode ${t.pushMode}; setup total ${Math.round(performance.now() - t0)} ms`);
    } catch (err) {
      t.setupError = String(err.message ?? err);
      t.pushMode = t.pushMode ?? 'post-put';
      log(`  SETUP FAILED: ${t.setupError}`);
    }
  }

  // Warm-up: one short unrecorded pass of every op that does not consume a per-round
  // blob, so round 1 does not pay for cold caches, JIT or Go's first GC cycles.
  const warmCfg = { ...cfg, loopMs: Math.min(300, cfg.loopMs), bigGets: 1, listMax: 5 };
  for (const t of targets) {
    for (const op of operations.filter((o) => !o.name.startsWith('blob-push') && (t.kind !== 'floor' || BIG_BLOB_OP.test(o.name)))) {
      try {
        await op.run({ client: t.client, fx, cfg: warmCfg, round: 'warm', pushMode: t.pushMode });
      } catch (err) {
        log(`  warm-up ${op.name} on ${t.name}: ${String(err.message ?? err).slice(0, 200)}`);
      }
    }
  }

  const ops = operations.map((op) => ({
    name: op.name,
    unit: op.unit,
    description: op.describe(cfg),
    perTarget: Object.fromEntries(targets.map((t) => [t.name, { rounds: [] }])),
  }));

  let roundsDone = 0;
  for (let round = 0; round < cfg.rounds; round++) {
    if (Date.now() > deadline) {
      log(`deadline reached: stopping after ${roundsDone} rounds`);
      break;
    }
    log(`round ${round + 1}/${cfg.rounds}`);
    // A B, then B A: neither target always runs right after the other's heavy op.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (let i = 0; i < operations.length; i++) {
      const op = operations[i];
      for (const t of order) {
        const slot = ops[i].perTarget[t.name];
        if (!t.alive()) {
          slot.rounds.push({ round, error: `server exited: ${t.stderrTail()}` });
          continue;
        }
        // The floor answers only the big-blob endpoints: its cells stay empty (—) for the rest.
        if (t.kind === 'floor' && !BIG_BLOB_OP.test(op.name)) continue;
        try {
          const m = await measure(t, op, round, fx);
          slot.rounds.push(m);
          log(`  ${op.name.padEnd(22)} ${t.name.padEnd(14)} ${m.throughput.toFixed(1).padStart(9)} ${op.unit.padEnd(7)} cpu ${m.cpuMsPerOp.toFixed(3).padStart(9)} ms/op  (n=${m.count}, ${m.wallMs} ms, loadgen ${m.loadgenCpuMs} ms)`);
        } catch (err) {
          const msg = String(err.message ?? err).slice(0, 500);
          slot.rounds.push({ round, error: msg });
          log(`  ${op.name.padEnd(22)} ${t.name.padEnd(14)} ERROR ${msg}`);
        }
      }
    }
    roundsDone++;
  }

  // What each server holds once the load has stopped: read after AFTER_ROUNDS_IDLE_MS of quiet, long
  // enough for the reference server's idle and settle passes (reference-server/src/idle-memory.ts: 1 s
  // after the last request, then 6 s later) — what a server sits at between bursts.
  const afterRounds = { idleMs: AFTER_ROUNDS_IDLE_MS, rssMiB: {} };
  const afterRoundsLine = () =>
    `memory after the load rounds (${AFTER_ROUNDS_IDLE_MS / 1000} s idle): ${Object.entries(afterRounds.rssMiB).map(([n, v]) => `${n} ${v} MiB`).join(', ')}`;
  if (roundsDone > 0) {
    await sleep(AFTER_ROUNDS_IDLE_MS);
    for (const t of targets) if (t.alive()) afterRounds.rssMiB[t.name] = +(memKiB(t.pid).rssKiB / 1024).toFixed(1);
    log(afterRoundsLine());
  }

  const memory = {};
  if (!opts['no-memory']) {
    log(`memory: ${cfg.memSize / MiB} MiB blob push + GET, VmRSS polled every 50 ms`);
    for (const t of targets) {
      try {
        if (!t.alive()) throw new Error('server not running');
        memory[t.name] = await measureMemory(t, t.client, fx.memory, t.pushMode);
        log(`  ${t.name}: ${JSON.stringify(memory[t.name])}`);
      } catch (err) {
        memory[t.name] = { error: String(err.message ?? err).slice(0, 300) };
        log(`  ${t.name}: ERROR ${memory[t.name].error}`);
      }
    }
    log(`memory: ${fx.memory4.length} × ${cfg.memSize / MiB} MiB blobs pushed at once, then fetched at once`);
    for (const t of targets) {
      const key = `${t.name} (${fx.memory4.length} parallel)`;
      try {
        if (!t.alive()) throw new Error('server not running');
        memory[key] = await measureMemoryParallel(t, t.client, fx.memory4, t.pushMode);
        log(`  ${key}: ${JSON.stringify(memory[key])}`);
      } catch (err) {
        memory[key] = { error: String(err.message ?? err).slice(0, 300) };
        log(`  ${key}: ERROR ${memory[key].error}`);
      }
    }
    // The same blob moved through a freshly started server: what moving a big blob costs by itself,
    // without the heap the c64 load rounds above left behind.
    log(`memory on fresh servers: ${cfg.memSize / MiB} MiB blob push + GET`);
    for (const t of targets) {
      const key = `${t.name} (fresh server)`;
      let fresh;
      try {
        fresh = await startTarget(t.kind, `${t.name}-fresh`, t.startOpts);
        fresh.client = await createClient(fresh.origin, { forceNodeHttp: opts['node-http'], followRedirects: opts.redirect });
        memory[key] = await measureMemory(fresh, fresh.client, fx.memory, t.pushMode);
        log(`  ${key}: ${JSON.stringify(memory[key])}`);
      } catch (err) {
        memory[key] = { error: String(err.message ?? err).slice(0, 300) };
        log(`  ${key}: ERROR ${memory[key].error}`);
      } finally {
        await fresh?.client?.close().catch(() => {});
        await fresh?.stop().catch(() => {});
      }
    }
  }

  const results = summarise({
    startedAt,
    finishedAt: new Date().toISOString(),
    profile: opts.quick ? 'quick' : 'full',
    storage: s3Env ? { driver: 's3', endpoint: s3Env.endpoint, redirect: opts.redirect } : { driver: 'filesystem' },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      client: targets[0]?.client.kind ?? 'unknown',
      cpuTickMs: CPU_TICK_MS,
    },
    config: { ...cfg, roundsDone },
    targets: targets.map((t) => ({
      name: t.name,
      kind: t.kind,
      version: t.version,
      command: t.command,
      pushMode: t.pushMode,
      setup: t.setup,
      setupError: t.setupError,
    })),
    ops,
    afterRounds,
    memory,
  });

  console.log('');
  console.log(consoleTable(results));
  if (Object.keys(afterRounds.rssMiB).length) {
    console.log('');
    console.log(afterRoundsLine());
  }
  if (Object.keys(memory).length) {
    console.log('');
    for (const [n, m] of Object.entries(memory)) {
      console.log(m.error ? `memory ${n}: ERROR ${m.error}` : `memory ${n}: ${m.parallel ? `${m.parallel} × ` : ''}${m.blobMiB} MiB blob — RSS before ${m.rssBeforeMiB} MiB, peak push ${m.pushPeakRssMiB} MiB, peak GET ${m.getPeakRssMiB} MiB, VmHWM ${m.hwmMiB} MiB${m.hwmReset ? ' (reset before test)' : ' (since start)'}`);
    }
  }
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(opts.out, 'latest.md'), markdown(results));
  log(`\nwrote ${join(opts.out, 'latest.json')} and latest.md`);
}

try {
  await main();
} catch (err) {
  log(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
