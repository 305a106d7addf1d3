/**
 * Streams a request body into a sink. Shared by the blob
 * drivers' upload appends: the filesystem driver's sink hashes and writes in one thread-pool job per
 * batch (file-sink.ts); the S3 driver's is a Writable that cuts parts, with the hash fed beside it
 * (writableSink).
 *
 * A plain data/pause/resume loop rather than stream.pipeline with a transform: on 256 MiB pushes it is
 * the difference between a promise per 64 KiB chunk and none. Resolves with the byte count once the
 * sink has finished (every byte written and hashed); rejects — after the sink has stopped (no write in
 * flight, so the caller may truncate) and while draining the rest of the body so the connection stays
 * usable — on a body error, an abort, a sink error, or more bytes than `limit`.
 */
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { BatchQueue } from './batch-queue.js';
import { bodyEnded, bodyStarted } from '../idle-memory.js';
import { chunkReleaser, type ChunkReleaser } from './body-chunks.js';
import type { ResumableHash } from './resumable-hash.js';

/** What a sink gets from the pump: events to send back, and where to hand chunks it is done with. */
export interface SinkContext {
  /** The sink took back a `false` from write(): reading may go on. */
  drain(): void;
  /** The sink failed on its own (a write error): the pump stops. */
  error(e: unknown): void;
  /**
   * Chunks the sink will never read again (stored and hashed, or dropped): freed at once when they
   * are the request's own (body-chunks.ts). Never call it while a thread-pool job still reads them.
   */
  release: ChunkReleaser;
}

/** Where a body's bytes go. Made per append by a SinkFactory, which receives the pump's context. */
export interface BodySink {
  /** Takes a chunk (kept, not copied: it must not change afterwards). false = pause until drain(). */
  write(chunk: Buffer): boolean;
  /** Resolves once every chunk written is stored (and hashed); rejects on a sink error. */
  finish(): Promise<void>;
  /** Stops taking chunks; resolves once nothing of the sink's is in flight any more. Never rejects. */
  abort(): Promise<void>;
}

export type SinkFactory = (ctx: SinkContext) => BodySink;

export interface PumpOptions {
  /** At most this many bytes (more → SIZE_INVALID). The caller checks "exactly" on the result. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

export function pumpBody(body: Readable, makeSink: SinkFactory, opts: PumpOptions = {}): Promise<number> {
  bodyStarted();
  const p = pump(body, makeSink, opts);
  // What a body's chunks left in malloc's arenas: idle-memory.ts returns it to the OS once traffic pauses.
  void p.then(
    (n) => bodyEnded(n),
    () => bodyEnded(0),
  );
  return p;
}

function pump(body: Readable, makeSink: SinkFactory, opts: PumpOptions): Promise<number> {
  const { limit, signal } = opts;
  return new Promise((resolve, reject) => {
    let received = 0;
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      cleanup();
      body.unpipe?.();
      if (!body.destroyed) body.resume(); // drain what is left so the connection stays usable
      void sink.abort().then(() => reject(e));
    };
    const onChunk = (chunk: Buffer) => {
      received += chunk.length;
      if (limit !== undefined && received > limit) return fail(new RegistryError('SIZE_INVALID', 'more bytes than announced'));
      if (!sink.write(chunk)) body.pause();
    };
    const sink = makeSink({
      drain: () => {
        if (!failed) body.resume();
      },
      error: fail,
      release: chunkReleaser(body, onChunk),
    });
    const onAbort = () => fail(signal?.reason ?? new Error('aborted'));
    const onEnd = () => {
      cleanup();
      sink.finish().then(
        () => {
          if (!failed) resolve(received);
        },
        (e: unknown) => fail(e),
      );
    };
    const onBodyError = (e: Error) => fail(e);
    const onBodyClose = () => {
      // 'close' without 'end': the client went away mid-chunk.
      if (!body.readableEnded) fail(new Error('request body ended early'));
    };
    const cleanup = () => {
      body.off('data', onChunk).off('end', onEnd).off('error', onBodyError).off('close', onBodyClose);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return fail(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    body.on('data', onChunk).once('end', onEnd).once('error', onBodyError).once('close', onBodyClose);
  });
}

export interface WritableSinkOptions {
  /**
   * The Writable has copied (or wholly used) each chunk by the time it calls the chunk's write
   * callback, as s3/part-sink.ts does: chunks may then be freed once the hash is done with them too.
   * Leave it unset for a Writable that keeps chunks (a PassThrough, anything zero-copy).
   */
  readonly copiesChunks?: boolean;
}

/**
 * A Writable as a sink, with an optional running hash fed beside it in ≥ 256 KiB batches off the event
 * loop (BatchQueue). Reading pauses while either is behind. finish() resolves on 'finish' only: end()'s
 * callback also runs when the final flush failed (ENOSPC, EIO), and a short write must never be
 * acknowledged. On a rejection the hash's state is undefined (callers keep a copy from before).
 */
export function writableSink(out: Writable, hash?: ResumableHash, opts: WritableSinkOptions = {}): SinkFactory {
  return (ctx) => {
    let outBlocked = false;
    let hashBlocked = false;
    const resumeIfClear = () => {
      if (!outBlocked && !hashBlocked) ctx.drain();
    };
    // With copiesChunks, a chunk is released once both the Writable (its write callback: _write has
    // copied it) and the hash are done with it; `halfDone` holds the chunks one of the two has finished.
    // A per-chunk callback, not one shared FIFO: on destroy, queued writes are called back before the
    // one in progress, out of order.
    const release = opts.copiesChunks ? ctx.release : null;
    const halfDone = new Set<Buffer>();
    const doneWith = (chunk: Buffer) => {
      if (!release) return;
      if (!hash || halfDone.delete(chunk)) release([chunk]);
      else halfDone.add(chunk);
    };
    // Hashing beside the Writable, in ≥ 256 KiB batches on the thread pool (below that the hop costs more
    // than it saves); reading pauses once 4 MiB wait for the hash, as it does for a slow Writable.
    const feeder = hash
      ? new BatchQueue(
          async (batch) => {
            try {
              await hash.updateAsync(batch);
            } finally {
              for (const chunk of batch) doneWith(chunk);
            }
          },
          () => {
            hashBlocked = false;
            resumeIfClear();
          },
          ctx.error,
          256 * 1024,
          4 * 1024 * 1024,
        )
      : null;
    const onDrain = () => {
      outBlocked = false;
      resumeIfClear();
    };
    out.on('drain', onDrain).once('error', ctx.error);
    const detach = () => {
      out.off('drain', onDrain);
      out.off('error', ctx.error);
    };
    return {
      write(chunk) {
        if (feeder && !feeder.push(chunk)) hashBlocked = true;
        if (!out.write(chunk, release ? () => doneWith(chunk) : undefined)) outBlocked = true;
        return !outBlocked && !hashBlocked;
      },
      async finish() {
        const finished = new Promise<void>((res) => out.once('finish', res));
        out.end();
        await Promise.all([finished, feeder?.flush()]);
        detach();
      },
      async abort() {
        detach();
        out.destroy();
        await Promise.all([out.closed ? undefined : new Promise((res) => out.once('close', res)), feeder?.stop()]);
        halfDone.clear();
      },
    };
  };
}

/** Checks the byte count of a finished append against the announced length. */
export function checkLength(received: number, expected: number | undefined): void {
  if (expected !== undefined && received !== expected) {
    throw new RegistryError('SIZE_INVALID', `expected ${expected} bytes, received ${received}`);
  }
}
