#!/usr/bin/env node
// Quick A/B of the big-blob paths without the full setup: starts the named targets, pushes one blob
// into each, then alternates N rounds of the chosen ops and prints median server CPU ms/op and MiB/s.
// For trying one idea at a time; the table in README.md comes from run.mjs.
// Usage: node bench/quick-compare.mjs [--targets distribution,nitro,floor] [--size-mib 256] [--rounds 5]
//        [--ops get,get4,push,push4,chunked]
// A target may carry extra environment for its server: `nitro+UV_THREADPOOL_SIZE=8` (several `+K=V`),
// so two variants of one idea run side by side in the same alternation.
import { parseArgs } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blobDigest } from './lib/blob-gen.mjs';
import { createClient, drain, expectStatus } from './lib/http-client.mjs';
import { cpuMs } from './lib/proc-stats.mjs';
import { probePushMode, pushBlobChunked, pushBlobMonolithic } from './lib/registry-calls.mjs';
import { median } from './lib/report.mjs';
import { startTarget } from './lib/servers.mjs';
import { execFileSync } from 'node:child_process';

const { values: o } = parseArgs({
  options: {
    targets: { type: 'string', default: 'distribution,nitro,floor' },
    'size-mib': { type: 'string', default: '256' },
    rounds: { type: 'string', default: '5' },
    ops: { type: 'string', default: 'get,get4,push,push4,chunked' },
  },
});
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const size = Number(o['size-mib']) << 20;
const rounds = Number(o.rounds);
const ops = o.ops.split(',');
const targets = [];
let seq = 0;
const blob = (s) => ({ seed: s, size, digest: blobDigest(s, size) });
try {
  for (const spec of o.targets.split(',')) {
    // `nitro+K=V+K=V`: the same target with extra environment (one idea per variant, same run).
    const [kind, ...envs] = spec.split('+');
    const saved = { ...process.env };
    for (const kv of envs) process.env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    const t = await startTarget(kind, spec, { repoRoot });
    process.env = saved;
    t.client = await createClient(t.origin);
    t.mode = await probePushMode(t.client, 'q/probe', { bytes: Buffer.from('x'), digest: 'sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' });
    t.big = blob('quick-get');
    await pushBlobMonolithic(t.client, 'q/big', t.big, t.mode);
    t.res = {};
    targets.push(t);
  }
  const get = async (t) => {
    const res = await t.client.request({ path: `/v2/q/big/blobs/${t.big.digest}`, method: 'GET' });
    await expectStatus(res, [200], 'GET');
    if ((await drain(res.body)) !== size) throw new Error('short GET');
  };
  const RUN = {
    get: async (t) => (await get(t), 1),
    get4: async (t) => (await Promise.all([get(t), get(t), get(t), get(t)]), 4),
    push: async (t) => (await pushBlobMonolithic(t.client, 'q/push', blob(`p${seq++}`), t.mode), 1),
    push4: async (t) => {
      const bs = [0, 1, 2, 3].map(() => blob(`p${seq++}`));
      await Promise.all(bs.map((b) => pushBlobMonolithic(t.client, 'q/push', b, t.mode)));
      return 4;
    },
    chunked: async (t) => (await pushBlobChunked(t.client, 'q/push', blob(`c${seq++}`), 16 << 20), 1),
  };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...targets].reverse() : targets;
    for (const op of ops) {
      for (const t of order) {
        execFileSync('sync');
        const c0 = cpuMs(t.pid);
        const t0 = performance.now();
        const n = await RUN[op](t);
        const ms = performance.now() - t0;
        await new Promise((res) => setTimeout(res, 50));
        ((t.res[op] ??= { cpu: [], thr: [] }).cpu.push((cpuMs(t.pid) - c0) / n), t.res[op].thr.push((n * size) / (1 << 20) / (ms / 1000)));
      }
    }
  }
  for (const op of ops) {
    console.log(op.padEnd(8), targets.map((t) => `${t.name}: ${median(t.res[op].thr).toFixed(0)} MiB/s ${median(t.res[op].cpu).toFixed(0)} ms/op`).join(' | '));
  }
} finally {
  for (const t of targets) {
    await t.client?.close().catch(() => {});
    await t.stop();
  }
}
