/**
 * The Writable an S3 append pumps the request body into: it fills part-sized buffers and uploads each
 * full one as a multipart part while the next fills, so at most (1 + maxInFlight) parts of one upload
 * are in memory whatever the blob's size. What is left at the end (less than a part) is the new tail,
 * which the caller stores as its own object. The sink starts with the previous tail's bytes, so small
 * appended chunks merge into the next part (S3 wants every part but the last ≥ 5 MiB).
 */
import { Writable } from 'node:stream';
import { RegistryError } from '../../oci/errors.js';
import { MAX_PARTS } from './config.js';
import type { PartRef } from './state.js';

export interface PartSinkOptions {
  readonly partSize: number;
  /** Number of the first part this append writes. */
  readonly firstPart: number;
  /** The previous tail's bytes (fewer than partSize). */
  readonly head: Buffer;
  /** Uploads one part; resolves with its ETag. */
  readonly uploadPart: (n: number, body: Buffer, signal: AbortSignal) => Promise<string>;
  readonly maxInFlight?: number;
}

export class PartSink extends Writable {
  private buf: Buffer;
  private fill = 0;
  private next: number;
  private readonly inFlight: Promise<PartRef>[] = [];
  private readonly done: PartRef[] = [];
  private readonly abort = new AbortController();
  private readonly maxInFlight: number;

  constructor(private readonly o: PartSinkOptions) {
    super({ highWaterMark: 1024 * 1024 });
    this.maxInFlight = o.maxInFlight ?? 2;
    // Small to start with (most blobs are small; a part buffer per tiny append would be 8 MiB of external
    // memory for V8 to account for), doubled up to partSize as bytes arrive.
    this.buf = Buffer.allocUnsafe(Math.min(o.partSize, Math.max(256 * 1024, o.head.length * 2)));
    o.head.copy(this.buf, 0);
    this.fill = o.head.length;
    this.next = o.firstPart;
  }

  /** Parts uploaded by this append, in order (valid after 'finish'). */
  get parts(): readonly PartRef[] {
    return this.done;
  }

  /** Bytes after the last full part (valid after 'finish'). */
  get leftover(): Buffer {
    return this.buf.subarray(0, this.fill);
  }

  // Copies `chunk` before calling back, on both paths: s3/upload.ts tells the pump so (copiesChunks), and
  // the pump frees a request's chunk once its write callback has run. Keep it so (or drop copiesChunks).
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.fill + chunk.length < this.o.partSize) {
      // The common case, kept synchronous: no promise per 64 KiB chunk.
      this.room(this.fill + chunk.length);
      chunk.copy(this.buf, this.fill);
      this.fill += chunk.length;
      return cb();
    }
    this.take(chunk).then(() => cb(), (e: Error) => cb(e));
  }

  private async take(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.o.partSize - this.fill);
      this.room(this.fill + n);
      chunk.copy(this.buf, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === this.o.partSize) {
        this.launch();
        // Backpressure: the body pauses until a part slot is free.
        if (this.inFlight.length >= this.maxInFlight) await this.settleOldest();
      }
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.drainAll().then(() => cb(), (e: Error) => cb(e));
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // Stop parts still uploading, and report only once none is running (no writes after the failure).
    this.abort.abort(err ?? new Error('append aborted'));
    Promise.allSettled(this.inFlight).then(() => cb(err));
  }

  /** Grows the current buffer (doubling, at most partSize) to hold `need` bytes. */
  private room(need: number): void {
    if (need <= this.buf.length) return;
    let size = this.buf.length;
    while (size < need) size *= 2;
    const bigger = Buffer.allocUnsafe(Math.min(size, this.o.partSize));
    this.buf.copy(bigger, 0, 0, this.fill);
    this.buf = bigger;
  }

  private launch(): void {
    const n = this.next++;
    if (n > MAX_PARTS) {
      throw new RegistryError('SIZE_INVALID', `blob too large: more than ${MAX_PARTS} parts of ${this.o.partSize} bytes (raise storage.s3.part_size)`);
    }
    const body = this.buf.length === this.fill ? this.buf : this.buf.subarray(0, this.fill);
    // The next part is known to be big: allocate it whole.
    this.buf = Buffer.allocUnsafe(this.o.partSize);
    this.fill = 0;
    const p = this.o.uploadPart(n, body, this.abort.signal).then((etag) => ({ n, etag, size: body.length }));
    p.catch(() => undefined); // observed by settleOldest/drainAll; never an unhandled rejection
    this.inFlight.push(p);
  }

  private async settleOldest(): Promise<void> {
    const p = this.inFlight[0]!;
    const part = await p;
    this.inFlight.shift();
    this.done.push(part);
  }

  private async drainAll(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
  }
}
