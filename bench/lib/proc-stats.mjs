// Reads a server process's CPU time and memory from /proc (Linux only).
// CPU comes from /proc/PID/stat, which sums utime+stime over ALL threads of the
// process (Go's runtime threads, libuv's thread pool) — exactly the server's cost.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Kernel clock ticks per second (utime/stime unit); 100 on almost every Linux. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU resolution of cpuMs(), in ms: measurements must be much longer than this. */
export const CPU_TICK_MS = 1000 / CLK_TCK;

/** user+system CPU milliseconds consumed so far by process `pid`. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces; everything after the last ')' is space separated,
  // starting at field 3 (state). utime is field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** { rssKiB, hwmKiB } from /proc/PID/status (VmRSS now, VmHWM = peak RSS since start). */
export function memKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+)/m.exec(status);
  const hwm = /^VmHWM:\s+(\d+)/m.exec(status);
  return { rssKiB: rss ? Number(rss[1]) : NaN, hwmKiB: hwm ? Number(hwm[1]) : NaN };
}

/**
 * Polls VmRSS of `pid` every `intervalMs` until stop() is called; stop() returns the
 * peak seen and the sample count. Polling is cheap (one small /proc read).
 */
export function startRssPoller(pid, intervalMs = 50) {
  let peakKiB = 0;
  let samples = 0;
  const sample = () => {
    try {
      const { rssKiB } = memKiB(pid);
      if (rssKiB > peakKiB) peakKiB = rssKiB;
      samples++;
    } catch {
      // process gone: the caller will notice through its own requests failing
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakKiB, samples };
    },
  };
}
