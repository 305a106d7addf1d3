/**
 * Collects chunks and hands them to an async job in batches, one job at a time, in order — the shared
 * mechanism of an upload's background work (pump.ts writableSink: hashing beside an S3 part writer; file-sink:
 * hash + pwritev of a file upload).
 *
 * A job starts once `batchBytes` are queued and takes everything queued then, so batches grow exactly
 * when the job is slower than the source. push() returns false once `maxBacklog` bytes wait (the caller
 * pauses its source until onDrain); a job also starts then, so a backlog below batchBytes cannot stall.
 * Chunks are only read, never copied. A job failure goes to onError once; later pushes are kept but
 * never run, and flush() rethrows it.
 */
export type BatchJob = (batch: Buffer[], bytes: number) => Promise<void>;

export class BatchQueue {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** The job in flight; never rejects (a failure is kept in `failure`). */
  private running: Promise<void> | null = null;
  private failure: unknown = null;
  private blocked = false;
  private stopped = false;

  constructor(
    private readonly job: BatchJob,
    private readonly onDrain: () => void,
    private readonly onError: (e: unknown) => void,
    private readonly batchBytes: number,
    private readonly maxBacklog: number,
  ) {}

  /** Queues a chunk; false = stop reading until onDrain. */
  push(chunk: Buffer): boolean {
    if (this.stopped) return false; // after stop() nothing may start: the job's fd may be closed already
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= this.maxBacklog) this.blocked = true;
    if (!this.running && this.failure === null && (this.queuedBytes >= this.batchBytes || this.blocked)) this.start();
    return !this.blocked;
  }

  /** Runs what is still queued; resolves once every pushed chunk went through a job, else rethrows. */
  async flush(): Promise<void> {
    while (this.failure === null && (this.running || this.queuedBytes > 0)) {
      if (!this.running) this.start();
      await this.running;
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Drops what is queued; resolves once no job is in flight (nothing of ours runs afterwards). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queued = [];
    this.queuedBytes = 0;
    await this.running;
  }

  private start(): void {
    const batch = this.queued;
    const bytes = this.queuedBytes;
    this.queued = [];
    this.queuedBytes = 0;
    this.running = this.job(batch, bytes).then(
      () => {
        this.running = null;
        if (this.stopped) return;
        if (this.queuedBytes >= this.batchBytes) this.start();
        if (this.blocked && this.queuedBytes < this.maxBacklog) {
          this.blocked = false;
          this.onDrain();
        }
      },
      (e: unknown) => {
        this.running = null;
        this.failure = e;
        if (!this.stopped) this.onError(e);
      },
    );
  }
}
