/** Free space on the data directory's filesystem, for /readyz: a full disk should take a replica out of rotation. */
import { statfs } from 'node:fs/promises';

const MiB = 1024 * 1024;

/** Throws "low disk: …" when fewer than `minFree` bytes are available to the server (0 = check off). */
export async function checkFreeSpace(dir: string, minFree: number): Promise<void> {
  if (minFree <= 0) return;
  const s = await statfs(dir);
  const free = s.bavail * s.bsize; // bavail: what an unprivileged writer may still use
  if (free < minFree) {
    throw new Error(`low disk: ${(free / MiB).toFixed(1)} MiB free on ${dir}, below limits.min_free_disk_bytes (${(minFree / MiB).toFixed(1)} MiB)`);
  }
}
