/**
 * Helpers for the robustness tests (connection limits, disk full, shutdown): a real listening registry
 * with auth and captured log lines, raw-socket clients, and a push/pull client over fetch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startRegistry, type RunningRegistry } from '../../src/server.js';
import { allBlobs, allManifests, type Built } from './oci.js';

export const ADMIN_PASSWORD = 'admin-pass';
export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
export const ADMIN = basic('admin', ADMIN_PASSWORD);

export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export interface LimitsFixture {
  readonly url: string;
  readonly running: RunningRegistry;
  readonly logLines: Record<string, unknown>[];
  readonly dataDir: string;
}

/** startRegistry with auth on (admin / ADMIN_PASSWORD), `overrides` on top; torn down with the test. */
export async function limitsFixture(t: TeardownHost, overrides: Record<string, unknown> = {}, dataDir?: string): Promise<LimitsFixture> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'nitro-limits-test-'));
  if (!dataDir) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logLines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const running = await startRegistry(
    { data: dir, listen: '127.0.0.1:0', shutdown_grace_seconds: 2, auth: { admin_password: ADMIN_PASSWORD }, ...overrides },
    { log: pino({ level: 'warn' }, sink), env: {} },
  );
  t.teardown(() => running.close());
  return { url: running.url, running, logLines, dataDir: dir };
}

/** A raw TCP client: what it received, whether the server closed it, and when. */
export interface RawClient {
  readonly socket: Socket;
  readonly received: () => string;
  /** Resolves when the socket closes (either side), with ms since connect. */
  readonly closed: Promise<number>;
}

export function rawClient(url: string, opts: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: opts.allowHalfOpen ?? false });
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('error', () => undefined); // resets are expected: the server cuts these clients
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** The status code of the first response in `text`, or undefined. */
export const statusOf = (text: string): number | undefined => {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : undefined;
};

export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

/** A timed fetch: pushes the duration into `latencies`, returns the response with its body read. */
export async function timed(latencies: number[], url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const body = Buffer.from(await res.arrayBuffer());
  latencies.push(performance.now() - t0);
  return { status: res.status, headers: res.headers, body };
}

/** Pushes an image tree by monolithic blob uploads and manifest PUTs; returns failures as messages. */
export async function pushImage(url: string, auth: string, repo: string, root: Built, tag: string, latencies: number[]): Promise<string[]> {
  const failures: string[] = [];
  for (const b of allBlobs(root)) {
    const r = await timed(latencies, `${url}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(b.digest)}`, {
      method: 'POST',
      headers: { Authorization: auth, 'Content-Type': 'application/octet-stream' },
      body: b.bytes,
    });
    if (r.status !== 201) failures.push(`blob ${b.digest} → ${r.status} ${r.body.toString()}`);
  }
  for (const m of allManifests(root)) {
    const ref = m.digest === root.digest ? tag : m.digest;
    const r = await timed(latencies, `${url}/v2/${repo}/manifests/${ref}`, {
      method: 'PUT',
      headers: { Authorization: auth, 'Content-Type': m.mediaType },
      body: m.bytes,
    });
    if (r.status !== 201) failures.push(`manifest ${ref} → ${r.status} ${r.body.toString()}`);
  }
  return failures;
}

/** Pulls an image tree back and checks every byte against its digest; returns failures as messages. */
export async function pullImage(url: string, auth: string, repo: string, root: Built, tag: string, latencies: number[]): Promise<string[]> {
  const failures: string[] = [];
  const m = await timed(latencies, `${url}/v2/${repo}/manifests/${tag}`, { headers: { Authorization: auth, Accept: root.mediaType } });
  if (m.status !== 200 || !m.body.equals(root.bytes)) failures.push(`manifest ${tag} → ${m.status}`);
  for (const b of allBlobs(root)) {
    const r = await timed(latencies, `${url}/v2/${repo}/blobs/${b.digest}`, { headers: { Authorization: auth } });
    if (r.status !== 200 || !r.body.equals(b.bytes)) failures.push(`blob ${b.digest} → ${r.status} (${r.body.length} bytes)`);
  }
  return failures;
}
