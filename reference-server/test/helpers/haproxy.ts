/**
 * A real load balancer in front of test backends: Debian's HAProxy 2.6 in the foreground on 127.0.0.1
 * and a free port, round robin per request, no stickiness, health checks (GET /readyz by default),
 * retry on another backend when a connection is refused (a killed replica). Stopped by its PID when
 * the test ends.
 *
 * Timeouts are inactivity timeouts, long enough for a 1 GiB upload over a slow replica (10 min without
 * a byte); bodies are streamed, never buffered by HAProxy.
 *
 * Declare the test with `{ skip: scaleoutSkip('haproxy') }` (see scaleout-env.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TeardownHost } from './registry.js';
import { assertScaleout, haproxyBinary } from './scaleout-env.js';
import { freePort, running, sleep, stopChild, tailOf, waitUntil } from './processes.js';

export interface LoadBalancerOptions {
  /** GET path of the health check; null: no health checks (every backend is always UP). Default /readyz. */
  healthPath?: string | null;
  /** Time between health checks. Default 250 ms. */
  checkIntervalMs?: number;
  /** Consecutive failed checks before a backend is DOWN (default 3; a slow check counts after 5 s), passed checks before it is UP again (default 1). */
  fall?: number;
  rise?: number;
  /** Wait at start until every backend has been checked and is UP (default true). */
  waitForChecks?: boolean;
}

export interface BackendState {
  /** r0, r1, … in the order of the backends given. */
  readonly name: string;
  readonly address: string;
  /** HAProxy's status: UP, DOWN, MAINT, "UP 1/2" (going down), "DOWN 1/2" (going up), no check. */
  readonly status: string;
  /** Requests sent to this backend so far. */
  readonly requests: number;
}

export interface LoadBalancer {
  readonly url: string;
  readonly pid: number;
  /** Backend states from HAProxy's runtime API. */
  states(): Promise<BackendState[]>;
  /** Waits until backend `i`'s status starts with `status` (e.g. 'DOWN' after a kill, 'UP' after a restart). */
  waitForState(i: number, status: string, timeoutMs?: number): Promise<void>;
  /** Sends one runtime API command (e.g. `set server replicas/r0 state drain`); returns HAProxy's answer. */
  command(cmd: string): Promise<string>;
  /** Stops HAProxy now (also done at teardown). */
  stop(): Promise<void>;
}

const BACKEND = 'replicas';

function address(backend: string): string {
  const u = new URL(backend.includes('://') ? backend : `http://${backend}`);
  if (u.protocol !== 'http:') throw new Error(`loadBalancer: only http backends (got ${backend})`);
  return `${u.hostname.replace(/^\[|\]$/g, '')}:${u.port || '80'}`;
}

function configText(port: number, socket: string, backends: string[], o: Required<Omit<LoadBalancerOptions, 'waitForChecks'>>): string {
  const check =
    o.healthPath === null
      ? []
      : [
          '  option httpchk',
          `  http-check send meth GET uri ${o.healthPath} ver HTTP/1.1 hdr Host 127.0.0.1`,
          '  http-check expect status 200',
          `  default-server check inter ${o.checkIntervalMs}ms fall ${o.fall} rise ${o.rise}`,
        ];
  return [
    'global',
    '  maxconn 4096',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  balance roundrobin',
    // A refused connection (backend killed, not yet marked DOWN) is retried on another backend. Only
    // connection failures are retried: a request that reached a backend is never sent twice.
    '  retries 3',
    '  option redispatch 1',
    '  option forwardfor',
    '  timeout connect 5s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout http-request 60s',
    '  timeout http-keep-alive 60s',
    '  timeout queue 60s',
    '  timeout check 5s',
    'frontend registry',
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${BACKEND}`,
    `backend ${BACKEND}`,
    ...check,
    ...backends.map((b, i) => `  server r${i} ${address(b)}`),
    '',
  ].join('\n');
}

/** One command on HAProxy's runtime API (a unix socket); resolves with the whole answer. */
function runtimeCommand(socket: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(socket, () => s.end(`${cmd}\n`));
    s.setTimeout(5_000, () => s.destroy(new Error(`haproxy runtime API: no answer to '${cmd}'`)));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

function parseStates(csv: string, backends: string[]): BackendState[] {
  const [header, ...rows] = csv.trim().split('\n');
  const cols = (header ?? '').replace(/^# /, '').split(',');
  const at = (name: string) => cols.indexOf(name);
  return rows
    .map((line) => line.split(','))
    .filter((f) => f[at('pxname')] === BACKEND && /^r\d+$/.test(f[at('svname')] ?? ''))
    .map((f) => {
      const name = f[at('svname')] as string;
      return {
        name,
        address: address(backends[Number(name.slice(1))] as string),
        status: f[at('status')] ?? '',
        requests: Number(f[at('stot')] ?? 0),
      };
    });
}

/** Starts HAProxy over `backends` (URLs or host:port); returns its URL. Stopped when `t` ends. */
export async function loadBalancer(t: TeardownHost, backends: string[], options: LoadBalancerOptions = {}): Promise<LoadBalancer> {
  assertScaleout('haproxy');
  if (backends.length === 0) throw new Error('loadBalancer: no backends');
  const opts = { healthPath: '/readyz', checkIntervalMs: 250, fall: 3, rise: 1, ...options };
  const dir = mkdtempSync(join(tmpdir(), 'nitro-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const configFile = join(dir, 'haproxy.cfg');

  // The free port may be taken between our probe and HAProxy's bind: try again on another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(configFile, configText(port, socket, backends, opts));
    const child = spawn(haproxyBinary() as string, ['-db', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr = tailOf(child.stderr);
    const closed = new Promise((resolve) => child.once('close', resolve)); // all of stderr is read
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child, 'SIGTERM', 5_000);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      // Up when its runtime API answers; then (optionally) until every backend has had its first check.
      await waitUntil('haproxy start', async () => (await runtimeCommand(socket, 'show info').catch(() => '')).includes('Pid:'), {
        timeoutMs: 10_000,
        intervalMs: 50,
        gaveUp: () => (running(child) ? undefined : `haproxy exited (${child.exitCode ?? child.signalCode}): ${stderr()}`),
      });
    } catch (e) {
      await stopChild(child, 'SIGKILL');
      await Promise.race([closed, sleep(1_000)]);
      if (attempt < 3 && /cannot bind|Address already in use/i.test(stderr())) continue;
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    t.teardown(stop);

    const lb: LoadBalancer = {
      url,
      pid: child.pid as number,
      states: async () => parseStates(await runtimeCommand(socket, 'show stat'), backends),
      command: (cmd) => runtimeCommand(socket, cmd),
      async waitForState(i, status, timeoutMs = 15_000) {
        let last = '';
        await waitUntil(
          `haproxy backend r${i} ${status}`,
          async () => {
            last = (await lb.states())[i]?.status ?? '';
            return last.startsWith(status);
          },
          { timeoutMs, intervalMs: 50, gaveUp: () => (running(child) ? undefined : `haproxy exited: ${stderr()}`) },
        ).catch((e: Error) => {
          throw new Error(`${e.message} (status: ${last})`);
        });
      },
      stop,
    };
    if (opts.healthPath !== null && options.waitForChecks !== false) {
      // "show stat" has check_status INI until a backend's first check: wait for all first checks.
      await waitUntil('haproxy first health checks', async () => {
        const csv = await runtimeCommand(socket, 'show stat');
        const [header, ...rows] = csv.trim().split('\n');
        const col = (header ?? '').replace(/^# /, '').split(',').indexOf('check_status');
        return rows.filter((r) => r.startsWith(`${BACKEND},r`)).every((r) => !(r.split(',')[col] ?? '').startsWith('INI'));
      }, { timeoutMs: 10_000, intervalMs: 50 });
      // Then until every backend is plainly UP: on a busy machine a first check may time out ("UP 1/3",
      // going down) and the next one pass; callers expect a balancer whose backends all take traffic.
      await waitUntil('haproxy: every backend UP', async () => (await lb.states()).every((s) => s.status === 'UP'), { timeoutMs: 30_000, intervalMs: 100 });
    }
    return lb;
  }
}
