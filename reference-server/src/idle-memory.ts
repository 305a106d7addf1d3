/**
 * Gives memory back to the OS once traffic pauses, so a server that took a burst returns to its idle
 * footprint instead of keeping the burst's high-water mark. A pass is:
 *  - a full V8 collection: with --initial-old-space-size=64 (the launch flags, bin/nitro-registry.js —
 *    for upload CPU) V8 otherwise keeps a burst's garbage in the old generation until its first
 *    mark-compact;
 *  - then malloc_trim(0) (the native addon, glibc only): glibc keeps what freed buffers leave in its
 *    arenas (measured: 94 → 72 MiB after four parallel 128 MiB pushes).
 *
 * noteActivity() is called per request and per finished body; QUIET_MS after the last call, if enough
 * happened since the previous pass (MIN_REQUESTS requests or MIN_BYTES body bytes — a trickle of requests
 * must not buy a full GC each) and no request body is being received (bodyStarted/bodyEnded: one slow
 * upload must not be paused by it), a pass runs. SETTLE_MS later, if nothing has happened since, a
 * second one runs: V8 shrinks its young generation (up to 2 × 16 MiB semi-spaces after a burst) only
 * when the allocation rate of the last seconds is low, which it is not yet one second after the burst
 * (measured after the bench's load rounds, Node 20: 159 → 154 MiB after the first pass, 106 MiB after
 * the second). Under continuous traffic nothing runs: the memory is being reused then. A failure here
 * is logged nowhere and never reaches a request: it is only a hint.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nativeHash } from './storage/native-hash.js';

export interface IdleMemoryOptions {
  readonly quietMs?: number;
  readonly settleMs?: number;
  readonly minRequests?: number;
  readonly minBytes?: number;
  /** Runs a full collection + trim; the default is fullCollection and the addon's trimMemory. */
  readonly collect?: () => void;
  /** Starts a timer; the default is an unref'd setTimeout (tests pass a manual clock). */
  readonly schedule?: Schedule;
}

/** A pending timer: refresh() restarts its delay, cancel() drops it. */
export interface PendingTimer {
  refresh(): void;
  cancel(): void;
}
export type Schedule = (fn: () => void, ms: number) => PendingTimer;

/** setTimeout, unref'd: a pending pass never keeps a process (a CLI, a test) alive. */
const realTimer: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { refresh: () => void t.refresh(), cancel: () => clearTimeout(t) };
};

/** Counts activity and schedules the passes; one per process (the module's functions below). */
export class IdleMemory {
  private requests = 0;
  private bytes = 0;
  private bodies = 0;
  private quiet: PendingTimer | null = null;
  private settle: PendingTimer | null = null;
  private readonly quietMs: number;
  private readonly settleMs: number;
  private readonly minRequests: number;
  private readonly minBytes: number;
  private readonly collect: () => void;
  private readonly schedule: Schedule;

  constructor(o: IdleMemoryOptions = {}) {
    this.quietMs = o.quietMs ?? 1000;
    this.settleMs = o.settleMs ?? 6000;
    this.minRequests = o.minRequests ?? 200;
    this.minBytes = o.minBytes ?? 8 * 1024 * 1024;
    this.collect = o.collect ?? collectAndTrim;
    this.schedule = o.schedule ?? realTimer;
  }

  noteActivity(bodyBytes = 0): void {
    this.requests++;
    this.bytes += bodyBytes;
    if (this.settle) {
      // Traffic again: the settle pass would measure a busy allocator. The next quiet pass decides anew.
      this.settle.cancel();
      this.settle = null;
    }
    if (this.quiet) {
      this.quiet.refresh();
      return;
    }
    this.quiet = this.schedule(() => this.quietPass(), this.quietMs);
  }

  /** A request body started arriving: no pass until it has ended. */
  bodyStarted(): void {
    this.bodies++;
  }

  bodyEnded(bodyBytes: number): void {
    this.bodies--;
    this.noteActivity(bodyBytes);
  }

  /** Stops pending passes (tests). */
  stop(): void {
    this.quiet?.cancel();
    this.settle?.cancel();
    this.quiet = this.settle = null;
  }

  private quietPass(): void {
    this.quiet = null;
    if (this.bodies > 0 || (this.requests < this.minRequests && this.bytes < this.minBytes)) return;
    this.requests = 0;
    this.bytes = 0;
    this.run();
    this.settle = this.schedule(() => {
      this.settle = null;
      if (this.bodies === 0) this.run();
    }, this.settleMs);
  }

  private run(): void {
    try {
      this.collect();
    } catch {
      // a hint only: never let it end the process
    }
  }
}

/**
 * V8's gc(): the global one when node runs with --expose-gc, else one taken from a fresh context after
 * turning the flag on (V8 installs `gc` in contexts created after that) — so the pass works however
 * node was started.
 */
type GcFunction = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gcFunction: GcFunction | null | undefined;
function getGc(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  gcFunction = (globalThis as { gc?: GcFunction }).gc ?? null;
  if (!gcFunction) {
    try {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as GcFunction;
    } catch {
      gcFunction = null;
    }
  }
  return gcFunction;
}

/**
 * One full, memory-reducing collection. V8 ≥ 12 (Node 22+) reads an options object: 'last-resort' is a
 * mark-compact that also shrinks the heap ("Mark-Compact (reduce)" in --trace-gc). V8 11 (Node 20) does
 * not: there any truthy argument means "minor", so `gc({type: 'major'})` runs a scavenge and leaves the
 * old generation as it was — only a bare gc() is a full collection there.
 */
const V8_MAJOR = Number(/^(\d+)\./.exec(process.versions.v8)?.[1] ?? 0);
export function fullCollection(): boolean {
  const gc = getGc();
  if (!gc) return false;
  if (V8_MAJOR >= 12) gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else gc();
  return true;
}

function collectAndTrim(): void {
  fullCollection();
  nativeHash?.trimMemory();
}

const serverWide = new IdleMemory();
export const noteActivity = (bodyBytes = 0): void => serverWide.noteActivity(bodyBytes);
export const bodyStarted = (): void => serverWide.bodyStarted();
export const bodyEnded = (bodyBytes: number): void => serverWide.bodyEnded(bodyBytes);
