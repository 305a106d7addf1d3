// Memory check: peak RSS of a server while it receives and then serves one big blob.
// A streaming server's RSS should stay flat whatever the blob size; one that buffers
// grows by about the blob size. VmRSS is polled every 50 ms; VmHWM (kernel-kept peak)
// catches spikes shorter than the poll interval.
import { writeFileSync } from 'node:fs';
import { drain, expectStatus } from './http-client.mjs';
import { memKiB, startRssPoller } from './proc-stats.mjs';
import { pushBlobMonolithic } from './registry-calls.mjs';

const MiB = 1024;

export async function measureMemory(target, client, blob, pushMode) {
  const repo = 'bench/memory';
  const hwmReset = resetPeakRss(target.pid);
  const start = memKiB(target.pid);
  let poller = startRssPoller(target.pid, 50);
  let t0 = performance.now();
  await pushBlobMonolithic(client, repo, blob, pushMode);
  const pushMs = performance.now() - t0;
  const push = poller.stop();

  poller = startRssPoller(target.pid, 50);
  t0 = performance.now();
  const res = await client.request({ path: `/v2/${repo}/blobs/${blob.digest}`, method: 'GET' });
  await expectStatus(res, [200], 'GET memory blob');
  const n = await drain(res.body);
  const getMs = performance.now() - t0;
  const get = poller.stop();
  if (n !== blob.size) throw new Error(`GET memory blob: ${n} bytes, expected ${blob.size}`);
  const end = memKiB(target.pid);

  return {
    blobMiB: blob.size / (1 << 20),
    pushMode,
    rssBeforeMiB: +(start.rssKiB / MiB).toFixed(1),
    pushPeakRssMiB: +(push.peakKiB / MiB).toFixed(1),
    getPeakRssMiB: +(get.peakKiB / MiB).toFixed(1),
    rssAfterMiB: +(end.rssKiB / MiB).toFixed(1),
    // VmHWM: the kernel's own peak, since the reset just before this test when
    // hwmReset is true, else since process start (then it includes setup and rounds).
    hwmReset,
    hwmMiB: +(end.hwmKiB / MiB).toFixed(1),
    pushMiBps: +(blob.size / (1 << 20) / (pushMs / 1000)).toFixed(1),
    getMiBps: +(blob.size / (1 << 20) / (getMs / 1000)).toFixed(1),
    samples: push.samples + get.samples,
  };
}

/**
 * Peak RSS while `blobs` (PARALLEL big blobs) are pushed all at once, then all fetched at once:
 * the realistic worst case (a client moving the layers of one image) for a streaming server.
 */
export async function measureMemoryParallel(target, client, blobs, pushMode) {
  const repo = 'bench/memory4';
  const hwmReset = resetPeakRss(target.pid);
  const start = memKiB(target.pid);
  let poller = startRssPoller(target.pid, 50);
  let t0 = performance.now();
  await Promise.all(blobs.map((b) => pushBlobMonolithic(client, repo, b, pushMode)));
  const pushMs = performance.now() - t0;
  const push = poller.stop();
  poller = startRssPoller(target.pid, 50);
  t0 = performance.now();
  await Promise.all(
    blobs.map(async (b) => {
      const res = await client.request({ path: `/v2/${repo}/blobs/${b.digest}`, method: 'GET' });
      await expectStatus(res, [200], 'GET memory blob');
      const n = await drain(res.body);
      if (n !== b.size) throw new Error(`GET memory blob: ${n} bytes, expected ${b.size}`);
    }),
  );
  const getMs = performance.now() - t0;
  const get = poller.stop();
  const end = memKiB(target.pid);
  const total = blobs.reduce((n, b) => n + b.size, 0) / (1 << 20);
  return {
    parallel: blobs.length,
    blobMiB: blobs[0].size / (1 << 20),
    rssBeforeMiB: +(start.rssKiB / MiB).toFixed(1),
    pushPeakRssMiB: +(push.peakKiB / MiB).toFixed(1),
    getPeakRssMiB: +(get.peakKiB / MiB).toFixed(1),
    rssAfterMiB: +(end.rssKiB / MiB).toFixed(1),
    hwmReset,
    hwmMiB: +(end.hwmKiB / MiB).toFixed(1),
    pushMiBps: +(total / (pushMs / 1000)).toFixed(1),
    getMiBps: +(total / (getMs / 1000)).toFixed(1),
  };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, needs write access to clear_refs). */
function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
