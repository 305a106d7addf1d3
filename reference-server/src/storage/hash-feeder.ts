/**
 * Feeds a stream's chunks to a ResumableHash in batches on the thread pool (the addon's updateAsync),
 * so an upload's receiving, hashing and file writing overlap instead of taking turns on the event loop.
 *
 * Chunks are collected until `batchBytes` (256 KiB: below that the thread hop costs more than it
 * saves) and hashed one batch at a time, in order. push() returns false once `maxBacklog` bytes wait
 * behind a running batch: the caller pauses its source until onDrain, so a slow hash bounds memory
 * like a slow disk does. The chunks are only read, never copied: they are the same Buffers that go to
 * the file.
 */
import type { ResumableHash } from './resumable-hash.js';

export const HASH_BATCH_BYTES = 256 * 1024;
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

export class HashFeeder {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private running: Promise<void> | null = null;
  private failure: unknown = null;
  private blocked = false;

  constructor(
    private readonly hash: ResumableHash,
    private readonly onDrain: () => void,
    private readonly onError: (e: unknown) => void,
    private readonly batchBytes = HASH_BATCH_BYTES,
    private readonly maxBacklog = MAX_BACKLOG_BYTES,
  ) {}

  /** Queues a chunk; false = stop reading until onDrain. */
  push(chunk: Buffer): boolean {
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= this.maxBacklog) this.blocked = true;
    // Blocking with nothing running would wait forever for onDrain (maxBacklog below batchBytes): start now.
    if (!this.running && (this.queuedBytes >= this.batchBytes || this.blocked)) this.start();
    return !this.blocked;
  }

  /** Resolves once no hash job is running (for an abort: nothing of ours is in flight afterwards). */
  async settled(): Promise<void> {
    await this.running;
  }

  /** Hashes what is still queued; resolves once the hash covers every pushed byte. */
  async flush(): Promise<void> {
    while (this.running || this.queuedBytes > 0) {
      if (!this.running) this.start();
      await this.running;
    }
    if (this.failure) throw this.failure;
  }

  private start(): void {
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.running = this.hash.updateAsync(batch).then(
      () => {
        this.running = null;
        if (this.queuedBytes >= this.batchBytes) this.start();
        if (this.blocked && this.queuedBytes < this.maxBacklog) {
          this.blocked = false;
          this.onDrain();
        }
      },
      (e: unknown) => {
        this.running = null;
        this.queued = [];
        this.queuedBytes = 0;
        this.failure = e;
        this.onError(e);
      },
    );
  }
}
