#!/usr/bin/env node
// Profiles the reference server on chosen bench operations, to find where its CPU goes.
// Starts `node --cpu-prof bin/nitro-registry.js serve` (random loopback port, temp dir),
// runs the usual setup, then each named operation once, printing server CPU ms/op and
// RSS after each; at the end prints the top self-time functions of the main thread and
// leaves the .cpuprofile (open it in Chrome DevTools → Performance) in the printed dir.
// Note: libuv thread-pool work (fs writes/fsync without io_uring) is not in the profile,
// but it is in the CPU ms/op figures, which come from /proc/PID/stat.
// Usage: node bench/profile-nitro.mjs blob-get-big,manifest-get-c64 [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from './lib/http-client.mjs';
import { OPERATIONS, makeFixtures, setupTarget } from './lib/operations.mjs';
import { cpuMs, memKiB } from './lib/proc-stats.mjs';
import { PROFILES } from './lib/profiles.mjs';
import { freePort } from './lib/servers.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = (args.find((a) => !a.startsWith('--')) ?? '').split(',').filter(Boolean);
const ops = names.map((n) => OPERATIONS.find((o) => o.name === n));
if (ops.length === 0 || ops.some((o) => !o)) {
  console.error(`usage: node bench/profile-nitro.mjs OP[,OP...] [--quick]\noperations: ${OPERATIONS.map((o) => o.name).join(', ')}`);
  process.exit(2);
}
const cfg = { ...(quick ? PROFILES.quick : PROFILES.full), rounds: 1 };
const mib = (kib) => (kib / 1024).toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'nitro-profile-'));
const port = await freePort();
const child = spawn(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir', dir, 'bin/nitro-registry.js', 'serve', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data'), '--log-level', 'warn', '--no-auth'],
  { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
);
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const listening = await Promise.race([
  new Promise((r) => child.stderr.on('data', () => /listening on/.test(stderr) && r(true))),
  new Promise((r) => child.once('exit', () => r(false))),
  new Promise((r) => setTimeout(() => r(false), 20_000)),
]);
if (!listening) {
  console.error(`nitro did not start: ${stderr}`);
  child.kill('SIGKILL');
  process.exit(1);
}
const pid = child.pid;
try {
  const client = await createClient(`http://127.0.0.1:${port}`);
  const fx = makeFixtures(cfg);
  console.log(`RSS at start ${mib(memKiB(pid).rssKiB)} MiB`);
  const { pushMode } = await setupTarget(client, fx, cfg, () => {});
  console.log(`RSS after setup ${mib(memKiB(pid).rssKiB)} MiB (push mode ${pushMode})`);
  for (const op of ops) {
    const c0 = cpuMs(pid);
    const r = await op.run({ client, fx, cfg, round: 0, pushMode });
    const m = memKiB(pid);
    console.log(`${op.name}: n=${r.count}, server CPU ${((cpuMs(pid) - c0) / r.count).toFixed(3)} ms/op, RSS ${mib(m.rssKiB)} MiB, VmHWM ${mib(m.hwmKiB)} MiB ${r.note ?? ''}`);
  }
  // Where the resident memory is: anonymous (V8 heap, malloc, Buffers) vs file-backed (code, mmaps).
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? NaN);
  console.log(`smaps_rollup: Rss ${mib(field('Rss'))} MiB = Anonymous ${mib(field('Anonymous'))} + file-backed ${mib(field('Rss') - field('Anonymous'))} MiB`);
  await client.close();
} finally {
  child.kill('SIGTERM'); // nitro shuts down cleanly on SIGTERM, which writes the profile
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  rmSync(join(dir, 'data'), { recursive: true, force: true });
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) {
  console.error(`no .cpuprofile written in ${dir}`);
  process.exit(1);
}
const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const timeById = new Map();
for (let i = 0; i < prof.samples.length; i++) timeById.set(prof.samples[i], (timeById.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const self = new Map();
let total = 0;
for (const node of prof.nodes) {
  const cf = node.callFrame;
  if (cf.functionName === '(idle)') continue;
  const ms = (timeById.get(node.id) ?? 0) / 1000;
  total += ms;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(`file://${repoRoot}/`, '')}:${cf.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + ms);
}
console.log(`\nmain thread: ${total.toFixed(0)} ms busy (setup included); top self time:`);
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${v.toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}
console.log(`\nprofile: ${join(dir, file)}`);
