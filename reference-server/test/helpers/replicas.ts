/**
 * N reference-server processes, as an operator runs them: `node bin/nitro-registry.js serve --config
 * FILE --listen 127.0.0.1:PORT`, one child process each, all with the same config (or one config per
 * replica from a function). The config file is written 0600 in a temp dir, so secrets in it (database
 * password, S3 keys) are never in argv. Each replica's first port is chosen by the kernel (port 0);
 * restart(i) brings it back on the same port, so a load balancer's backend list stays valid.
 *
 * Ready = the process printed its "listening on" line and GET /readyz answers below 500 (200 when ready,
 * 503 while not; 404 from a server without /readyz). Everything is stopped by PID at teardown.
 * Needs `npm run build` (bin/nitro-registry.js runs build/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { TeardownHost } from './registry.js';
import { exited, httpStatus, running, stopChild, waitUntil } from './processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(ROOT, 'bin', 'nitro-registry.js');
const SERVE_BUILT = join(ROOT, 'build', 'reference-server', 'src', 'cli.js');

export type ReplicaConfig = Record<string, unknown>;

export interface ReplicaOptions {
  /** Extra environment for the replicas. NITRO_REGISTRY_* variables of the test's own environment are not passed on. */
  env?: Record<string, string>;
  /** Readiness path (default /readyz). */
  readyPath?: string;
  /** How long a replica may take to become ready (default 30 s). */
  readyTimeoutMs?: number;
  /** Grace for SIGTERM at teardown and in restart() before SIGKILL (default 15 s). */
  stopGraceMs?: number;
}

export interface Replicas {
  /** http://127.0.0.1:PORT of each replica; a replica keeps its URL across restarts. */
  readonly urls: readonly string[];
  /** Current PID of each replica (changes on restart). */
  readonly pids: readonly number[];
  /** The config file each replica was started with. */
  readonly configFiles: readonly string[];
  /** Sends `signal` (default SIGKILL) to replica i and waits until it has exited (not for SIGSTOP/SIGCONT). */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Stops replica i if it runs (SIGTERM), starts it again on its port, waits until it is ready. */
  restart(i: number): Promise<void>;
  /** Whether replica i's process is running. */
  running(i: number): boolean;
  /** The last output (stdout and stderr) of replica i. */
  output(i: number): string;
}

interface Replica {
  child: ChildProcess;
  port: number;
  tail: string;
}

const LISTENING = /nitro-registry listening on (https?):\/\/[^\s:]+:(\d+)/;

export async function replicas(
  t: TeardownHost,
  n: number,
  config: ReplicaConfig | ((i: number) => ReplicaConfig),
  opts: ReplicaOptions = {},
): Promise<Replicas> {
  if (!existsSync(SERVE_BUILT)) throw new Error(`replicas: ${SERVE_BUILT} is missing; run 'npm run build' first`);
  const { readyPath = '/readyz', readyTimeoutMs = 30_000, stopGraceMs = 15_000 } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'nitro-replicas-'));
  const shared = typeof config === 'function' ? undefined : join(dir, 'config.yaml');
  if (shared) writeFileSync(shared, stringify(config), { mode: 0o600 });
  const configFiles = Array.from({ length: n }, (_, i) => {
    if (shared) return shared;
    const file = join(dir, `config-${i}.yaml`);
    writeFileSync(file, stringify((config as (i: number) => ReplicaConfig)(i)), { mode: 0o600 });
    return file;
  });
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NITRO_REGISTRY_')));
  Object.assign(env, opts.env);

  const list: Replica[] = [];

  async function start(i: number, port: number): Promise<Replica> {
    const log = createWriteStream(join(dir, `replica-${i}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configFiles[i] as string, '--listen', `127.0.0.1:${port}`], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: Replica = { child, port, tail: '' };
    let listening = false;
    const onData = (d: Buffer) => {
      log.write(d);
      r.tail = (r.tail + d.toString()).slice(-8_000);
      const m = listening ? null : LISTENING.exec(r.tail);
      if (m) {
        r.port = Number(m[2]);
        listening = true;
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('close', () => log.end()); // after the last output ('exit' may come first)
    const gaveUp = () => (running(child) ? undefined : `replica ${i} exited (${child.exitCode ?? child.signalCode})`);
    try {
      await waitUntil(`replica ${i} listening`, () => listening, { timeoutMs: readyTimeoutMs, intervalMs: 25, gaveUp });
      const url = `http://127.0.0.1:${r.port}`;
      await waitUntil(`replica ${i} ready (GET ${url}${readyPath})`, async () => ((await httpStatus(`${url}${readyPath}`)) ?? 500) < 500, {
        timeoutMs: readyTimeoutMs,
        intervalMs: 50,
        gaveUp,
      });
    } catch (e) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`${(e as Error).message}\n--- output of replica ${i}:\n${r.tail}`);
    }
    return r;
  }

  t.teardown(async () => {
    await Promise.all(list.map((r) => stopChild(r.child, 'SIGTERM', stopGraceMs)));
    rmSync(dir, { recursive: true, force: true });
  });

  const started = await Promise.allSettled(Array.from({ length: n }, (_, i) => start(i, 0)));
  for (const s of started) if (s.status === 'fulfilled') list.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;

  const at = (i: number): Replica => {
    const r = list[i];
    if (!r) throw new Error(`no replica ${i} (there are ${list.length})`);
    return r;
  };
  return {
    get urls() {
      return list.map((r) => `http://127.0.0.1:${r.port}`);
    },
    get pids() {
      return list.map((r) => r.child.pid as number);
    },
    configFiles,
    async kill(i, signal = 'SIGKILL') {
      const { child } = at(i);
      if (!running(child)) return;
      process.kill(child.pid as number, signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await exited(child);
    },
    async restart(i) {
      const r = at(i);
      await stopChild(r.child, 'SIGTERM', stopGraceMs);
      list[i] = await start(i, r.port);
    },
    running: (i) => running(at(i).child),
    output: (i) => at(i).tail,
  };
}

