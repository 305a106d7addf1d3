/**
 * The filesystem driver's upload sink: appends a body to an open upload file while hashing it, in
 * batches that each take ONE thread-pool job (ResumableHash.updateAndWrite → the addon's
 * hashWriteAsync: SHA update, then pwritev at the batch's offset).
 *
 * Why not a WriteStream plus a separate hash job: a 256 MiB push then made ~3 000 thread-pool jobs
 * (a write per 64 KiB chunk, a hash per 256 KiB batch), each a futex wake-up and an eventfd write, and
 * paused/resumed the socket (epoll_ctl) whenever either fell behind. Here the event loop only collects
 * the parser's chunks; one job at a time hashes and writes whatever has gathered (≥ 512 KiB, more when
 * the disk or the hash is slower than the socket), so batches grow exactly when the pool is behind and
 * reading pauses only when `maxBacklog` bytes wait.
 *
 * Memory per upload: at most `maxBacklog` queued + one batch in flight (≤ maxBacklog + a chunk); a
 * request's chunks are freed as soon as their batch is stored (ctx.release, body-chunks.ts).
 */
import { BatchQueue } from './batch-queue.js';
import type { BodySink, SinkFactory } from './pump.js';
import type { ResumableHash } from './resumable-hash.js';

// Measured on 256 MiB pushes (bench/README.md, "upload sink"): 512 KiB / 2 MiB beat 1 MiB / 4 MiB by
// ~25 % in server CPU — larger batches are written after they have left the core's cache (more system
// time in pwritev) — and 256 KiB / 1 MiB, which pays more thread hand-offs.
export const FILE_SINK_BATCH_BYTES = 512 * 1024;
export const FILE_SINK_MAX_BACKLOG_BYTES = 2 * 1024 * 1024;

export interface FileSinkOptions {
  readonly batchBytes?: number;
  readonly maxBacklog?: number;
}

/** Writes from `position` on in `fd` (which the caller opens, and closes after the pump settles). */
export function fileSink(fd: number, position: number, hash: ResumableHash, opts: FileSinkOptions = {}): SinkFactory {
  const batchBytes = opts.batchBytes ?? FILE_SINK_BATCH_BYTES;
  const maxBacklog = opts.maxBacklog ?? FILE_SINK_MAX_BACKLOG_BYTES;
  return (ctx): BodySink => {
    let offset = position;
    const queue = new BatchQueue(
      async (batch, bytes) => {
        const at = offset;
        offset += bytes;
        try {
          await hash.updateAndWrite(batch, fd, at);
        } finally {
          // The job has settled: no thread reads the batch any more (stored, or lost with the append).
          ctx.release(batch);
        }
      },
      ctx.drain,
      ctx.error,
      batchBytes,
      maxBacklog,
    );
    return {
      write: (chunk) => queue.push(chunk),
      finish: () => queue.flush(),
      abort: () => queue.stop(),
    };
  };
}
