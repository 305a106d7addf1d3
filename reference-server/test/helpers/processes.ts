/**
 * Child processes for tests: a free loopback port, polling until something is ready, and stopping a
 * child we spawned by its PID (never by name).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (for programs that cannot listen on port 0 and report). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` every `intervalMs` until it returns true. Throws when `timeoutMs` has passed, or at once
 * when `gaveUp()` returns a reason (say, the process being waited for has exited).
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; intervalMs?: number; gaveUp?: () => string | undefined } = {},
): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100, gaveUp } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stop = gaveUp?.();
    if (stop !== undefined) throw new Error(`${what}: ${stop}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Status of GET url (body drained), or undefined when nothing answers. */
export async function httpStatus(url: string, timeoutMs = 2_000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

export const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Sends `signal` to the child's PID and waits for it to exit; SIGKILL after `graceMs`. A child that
 * has already exited is left alone (its PID may belong to another process by now).
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (!running(child) || child.pid === undefined) return;
  const done = exited(child);
  process.kill(child.pid, signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([done, late])) === 'late' && running(child)) {
    process.kill(child.pid, 'SIGKILL');
    await done;
  }
  clearTimeout(timer);
}

/** The last `max` characters a stream produced, for error messages. */
export function tailOf(stream: NodeJS.ReadableStream | null | undefined, max = 4_000): () => string {
  let tail = '';
  stream?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-max);
  });
  return () => tail;
}
