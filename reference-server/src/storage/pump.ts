/**
 * Streams a request body into a Writable, showing every chunk to `onData` (the running hash) on the way.
 * Shared by the blob drivers' upload appends.
 *
 * A plain data/drain loop rather than stream.pipeline with a transform: on 256 MiB pushes it is the
 * difference between a promise per 64 KiB chunk and none. Resolves with the byte count once `out` has
 * flushed ('finish'); rejects — after destroying `out` and draining the rest of the body so the
 * connection stays usable — on a body error, an abort, a write error, or more bytes than `limit`.
 */
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { HashFeeder } from './hash-feeder.js';
import type { ResumableHash } from './resumable-hash.js';

export interface PumpOptions {
  /** At most this many bytes (more → SIZE_INVALID). The caller checks "exactly" on the result. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
  readonly onData?: (chunk: Buffer) => void;
  /**
   * The running hash of the upload: fed in ≥ 256 KiB batches off the event loop (HashFeeder), so
   * hashing overlaps receiving and writing. Covers every byte once the promise resolves; on a
   * rejection its state is undefined (callers keep a copy from before).
   */
  readonly hash?: ResumableHash;
}

export function pumpBody(body: Readable, out: Writable, opts: PumpOptions = {}): Promise<number> {
  const { limit, signal, onData, hash } = opts;
  return new Promise((resolve, reject) => {
    let received = 0;
    let failed = false;
    // Reading pauses while the file or the hash is behind, and resumes when neither is.
    let outBlocked = false;
    let hashBlocked = false;
    const resumeIfClear = () => {
      if (!outBlocked && !hashBlocked && !failed) body.resume();
    };
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      cleanup();
      body.unpipe?.();
      if (!body.destroyed) body.resume(); // drain what is left so the connection stays usable
      out.destroy();
      if (out.closed) reject(e);
      else out.once('close', () => reject(e));
    };
    const onAbort = () => fail(signal?.reason ?? new Error('aborted'));
    const onChunk = (chunk: Buffer) => {
      received += chunk.length;
      if (limit !== undefined && received > limit) return fail(new RegistryError('SIZE_INVALID', 'more bytes than announced'));
      try {
        onData?.(chunk);
      } catch (e) {
        return fail(e);
      }
      if (feeder && !feeder.push(chunk)) hashBlocked = true;
      if (!out.write(chunk)) outBlocked = true;
      if (outBlocked || hashBlocked) body.pause();
    };
    const onDrain = () => {
      outBlocked = false;
      resumeIfClear();
    };
    const feeder = hash
      ? new HashFeeder(
          hash,
          () => {
            hashBlocked = false;
            resumeIfClear();
          },
          (e) => fail(e),
        )
      : null;
    const onEnd = () => {
      cleanup();
      // Resolve on 'finish' only: end()'s callback also runs when the final flush failed (ENOSPC, EIO),
      // and a short file must never be acknowledged. 'error' still goes to fail().
      const finished = new Promise<void>((res) => out.once('finish', res));
      out.end();
      Promise.all([finished, feeder?.flush()]).then(
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
    const onOutError = (e: Error) => fail(e);
    const cleanup = () => {
      body.off('data', onChunk).off('end', onEnd).off('error', onBodyError).off('close', onBodyClose);
      out.off('drain', onDrain);
      signal?.removeEventListener('abort', onAbort);
    };
    out.once('error', onOutError);
    if (signal?.aborted) return fail(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    out.on('drain', onDrain);
    body.on('data', onChunk).once('end', onEnd).once('error', onBodyError).once('close', onBodyClose);
  });
}

/** Checks the byte count of a finished append against the announced length. */
export function checkLength(received: number, expected: number | undefined): void {
  if (expected !== undefined && received !== expected) {
    throw new RegistryError('SIZE_INVALID', `expected ${expected} bytes, received ${received}`);
  }
}
