/**
 * Gives memory back to the OS once traffic pauses, so a server that took a burst returns to its idle
 * footprint instead of keeping the burst's high-water mark:
 *  - a full V8 collection (`globalThis.gc`, present because the launch flags include --expose-gc —
 *    bin/nitro-registry.js): with --initial-old-space-size=64 (same place, for upload CPU) V8 otherwise
 *    lets the old generation keep up to ~50 MB of garbage until its first mark-compact;
 *  - then malloc_trim(0) (the native addon, glibc only): every request-body chunk is a fresh 64 KiB
 *    malloc, and glibc keeps what those leave behind in its arenas (measured: 94 → 72 MiB after four
 *    parallel 128 MiB pushes).
 *
 * noteActivity() is called per request and per received body; QUIET_MS after the last call, if enough
 * happened since the previous pass (MIN_REQUESTS requests or MIN_BYTES body bytes — a trickle of
 * requests must not buy a full GC each), both run once. Under continuous traffic nothing runs: the
 * memory is being reused then. Without --expose-gc or the addon the missing half is skipped.
 */
import { nativeHash } from './storage/native-hash.js';

const QUIET_MS = 1000;
const MIN_REQUESTS = 200;
const MIN_BYTES = 8 * 1024 * 1024;

let requests = 0;
let bytes = 0;
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

function pass(): void {
  timer = null;
  if (requests < MIN_REQUESTS && bytes < MIN_BYTES) return;
  requests = 0;
  bytes = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  nativeHash?.trimMemory();
}
