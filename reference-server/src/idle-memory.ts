/**
 * Gives memory back to the OS once traffic pauses, so a server that took a burst returns to its idle
 * footprint instead of keeping the burst's high-water mark:
 *  - a full V8 collection: with --initial-old-space-size=64 (the launch flags, bin/nitro-registry.js —
 *    for upload CPU) V8 otherwise keeps a burst's garbage in the old generation until its first
 *    mark-compact;
 *  - then malloc_trim(0) (the native addon, glibc only): every request-body chunk is a fresh 64 KiB
 *    malloc, and glibc keeps what those leave behind in its arenas (measured: 94 → 72 MiB after four
 *    parallel 128 MiB pushes).
 *
 * noteActivity() is called per request and per finished body; QUIET_MS after the last call, if enough
 * happened since the previous pass (MIN_REQUESTS requests or MIN_BYTES body bytes — a trickle of requests
 * must not buy a full GC each) and no request body is being received (bodyStarted/bodyEnded: one slow
 * upload must not be paused by it), both run once. Under continuous traffic nothing runs: the memory is
 * being reused then. A failure here is logged nowhere and never reaches a request: it is only a hint.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { nativeHash } from './storage/native-hash.js';

const QUIET_MS = 1000;
const MIN_REQUESTS = 200;
const MIN_BYTES = 8 * 1024 * 1024;

let requests = 0;
let bytes = 0;
let bodies = 0;
let timer: NodeJS.Timeout | null = null;

export function noteActivity(bodyBytes = 0): void {
  requests++;
  bytes += bodyBytes;
  if (timer) {
    timer.refresh();
    return;
  }
  timer = setTimeout(pass, QUIET_MS);
  timer.unref();
}

/** A request body started arriving: no pass until it has ended. */
export function bodyStarted(): void {
  bodies++;
}

export function bodyEnded(bodyBytes: number): void {
  bodies--;
  noteActivity(bodyBytes);
}

/**
 * V8's gc(): the global one when node runs with --expose-gc, else one taken from a fresh context after
 * turning the flag on (V8 installs `gc` in contexts created after that) — so the pass works however
 * node was started.
 */
let fullGc: (() => void) | null | undefined;
function getGc(): (() => void) | null {
  if (fullGc !== undefined) return fullGc;
  fullGc = (globalThis as { gc?: () => void }).gc ?? null;
  if (!fullGc) {
    try {
      setFlagsFromString('--expose-gc');
      fullGc = runInNewContext('gc') as () => void;
    } catch {
      fullGc = null;
    }
  }
  return fullGc;
}

function pass(): void {
  timer = null;
  if (bodies > 0 || (requests < MIN_REQUESTS && bytes < MIN_BYTES)) return;
  requests = 0;
  bytes = 0;
  try {
    getGc()?.();
    nativeHash?.trimMemory();
  } catch {
    // a hint only: never let it end the process
  }
}
