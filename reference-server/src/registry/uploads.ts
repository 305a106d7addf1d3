/**
 * Upload sessions: bytes arrive in one or more chunks, are hashed while they stream to the session's
 * scratch file, and become a blob only when the client's digest matches. Session records live in the
 * metadata store (they survive a restart); the running hash lives in memory and is rebuilt from the
 * scratch file when missing (after a restart) — so resuming is always possible, just slower once.
 */
import type { Hash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { newHash, parseDigest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobRecord, MetadataStore, UploadRecord } from '../metadata/store.js';

interface HashState {
  hash: Hash;
  /** Bytes covered by `hash`. */
  offset: number;
}

export interface ChunkOptions {
  /** Content-Range start, when the client sent one: must equal the session's offset. */
  readonly start?: number;
  /** Expected number of bytes (Content-Length or the Content-Range span). */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

export class UploadService {
  private readonly hashes = new Map<string, HashState>();
  /** Sessions with a chunk in progress: a second concurrent writer would corrupt the offset. */
  private readonly busy = new Set<string>();
  private inFlight = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetadataStore,
  ) {}

  get uploadsInFlight(): number {
    return this.inFlight;
  }

  async start(repository: string): Promise<UploadRecord> {
    const id = randomUUID();
    await this.blobs.createUpload(id);
    const rec = this.meta.createUpload(id, repository);
    this.hashes.set(id, { hash: newHash('sha256'), offset: 0 });
    return rec;
  }

  /** The session, if it exists and belongs to `repository`. */
  get(id: string, repository: string): UploadRecord {
    const rec = /^[a-zA-Z0-9-]{8,64}$/.test(id) ? this.meta.getUpload(id) : null;
    if (!rec || rec.repository !== repository) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    return rec;
  }

  /** Appends one chunk; returns the new offset. On any failure the session is left as it was before. */
  async append(id: string, repository: string, body: Readable, opts: ChunkOptions = {}): Promise<UploadRecord> {
    const rec = this.get(id, repository);
    if (opts.start !== undefined && opts.start !== rec.offset) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${opts.start} but the upload has ${rec.offset} bytes`, undefined, {
        Range: rangeHeader(rec.offset),
        Location: uploadLocation(repository, id),
        'Docker-Upload-UUID': id,
      });
    }
    if (this.busy.has(id)) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another chunk is being written to this upload');
    this.busy.add(id);
    this.inFlight++;
    try {
      const state = await this.hashState(rec);
      const before = state.hash.copy(); // to roll back if the chunk fails half way
      const limit = opts.length;
      let received = 0;
      try {
        received = await writeChunk(body, this.blobs.appendUpload(id, rec.offset), state.hash, limit, opts.signal);
        if (limit !== undefined && received !== limit) {
          throw new RegistryError('SIZE_INVALID', `expected ${limit} bytes, received ${received}`);
        }
      } catch (e) {
        state.hash = before;
        state.offset = rec.offset;
        await this.blobs.truncateUpload(id, rec.offset).catch(() => undefined);
        throw e;
      }
      state.offset = rec.offset + received;
      this.meta.setUploadOffset(id, state.offset);
      return { ...rec, offset: state.offset, updatedAt: Date.now() };
    } finally {
      this.busy.delete(id);
      this.inFlight--;
    }
  }

  /**
   * Finishes the session: appends the optional final chunk, checks `digest`, and commits the blob into
   * the repository. A digest mismatch ends the session (its bytes cannot become any other blob).
   */
  async complete(
    id: string,
    repository: string,
    digest: string,
    finalChunk: { body: Readable; opts: ChunkOptions } | null,
  ): Promise<BlobRecord> {
    const parsed = parseDigest(digest);
    if (!parsed) throw new RegistryError('DIGEST_INVALID', 'digest parameter is missing or not a supported digest', { digest });
    let rec = this.get(id, repository);
    if (finalChunk) rec = await this.append(id, repository, finalChunk.body, finalChunk.opts);
    if (this.busy.has(id)) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another chunk is being written to this upload');
    this.busy.add(id);
    try {
      let actual: string;
      if (parsed.algorithm === 'sha256') {
        const state = await this.hashState(rec);
        actual = `sha256:${state.hash.copy().digest('hex')}`;
      } else {
        actual = await this.hashFile(id, parsed.algorithm);
      }
      if (actual !== digest) {
        await this.discard(id);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: digest, actual });
      }
      await this.blobs.syncUpload(id);
      const onDisk = await this.blobs.uploadSize(id);
      if (onDisk !== rec.offset) {
        await this.discard(id);
        throw new Error(`upload ${id}: ${onDisk} bytes on disk, ${rec.offset} recorded; refusing to commit`);
      }
      // One synchronous block: the file appears and is recorded with no await in between (see gc/).
      this.blobs.commitUploadSync(id, digest);
      this.meta.addBlobAndLink(digest, rec.offset, repository);
      this.meta.deleteUpload(id);
      this.hashes.delete(id);
      return this.meta.getBlob(digest)!;
    } finally {
      this.busy.delete(id);
    }
  }

  /** Monolithic upload (POST ?digest=): a session with one chunk, completed at once. */
  async monolithic(repository: string, digest: string, body: Readable, opts: ChunkOptions): Promise<BlobRecord> {
    if (!parseDigest(digest)) {
      body.resume();
      throw new RegistryError('DIGEST_INVALID', 'digest parameter is not a supported digest', { digest });
    }
    const rec = await this.start(repository);
    try {
      return await this.complete(rec.id, repository, digest, { body, opts });
    } catch (e) {
      await this.discard(rec.id);
      throw e;
    }
  }

  async cancel(id: string, repository: string): Promise<void> {
    this.get(id, repository);
    await this.discard(id);
  }

  /** Removes sessions idle since before `cutoff`; returns how many. */
  async purgeStale(cutoff: number): Promise<number> {
    let n = 0;
    for (const rec of this.meta.staleUploads(cutoff)) {
      if (this.busy.has(rec.id)) continue;
      await this.discard(rec.id);
      n++;
    }
    return n;
  }

  private async discard(id: string): Promise<void> {
    this.meta.deleteUpload(id);
    this.hashes.delete(id);
    await this.blobs.deleteUpload(id);
  }

  private async hashState(rec: UploadRecord): Promise<HashState> {
    const cached = this.hashes.get(rec.id);
    if (cached && cached.offset === rec.offset) return cached;
    // After a restart (or a lost cache) rebuild the hash from the bytes on disk.
    const size = await this.blobs.uploadSize(rec.id);
    if (size === null) {
      this.meta.deleteUpload(rec.id);
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload data is gone', { uuid: rec.id });
    }
    if (size > rec.offset) await this.blobs.truncateUpload(rec.id, rec.offset); // a chunk cut by a crash
    const hash = newHash('sha256');
    let seen = 0;
    for await (const chunk of this.blobs.readUpload(rec.id)) {
      const buf = chunk as Buffer;
      const take = Math.min(buf.length, rec.offset - seen);
      if (take > 0) hash.update(take === buf.length ? buf : buf.subarray(0, take));
      seen += buf.length;
    }
    const state = { hash, offset: rec.offset };
    this.hashes.set(rec.id, state);
    return state;
  }

  private async hashFile(id: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
    const hash = newHash(algorithm);
    for await (const chunk of this.blobs.readUpload(id)) hash.update(chunk as Buffer);
    return `${algorithm}:${hash.digest('hex')}`;
  }
}

/** The `Range` header of upload status responses: inclusive end, "0-0" for an empty upload (as Distribution). */
export const rangeHeader = (offset: number): string => `0-${Math.max(offset - 1, 0)}`;

export const uploadLocation = (repository: string, id: string): string => `/v2/${repository}/blobs/uploads/${id}`;

/**
 * Streams `body` into `out`, feeding every chunk to `hash` on the way. A plain data/drain loop rather than
 * stream.pipeline with a transform: on 256 MiB pushes it is the difference between a promise per 64 KiB
 * chunk and none. Resolves with the byte count once `out` has flushed; rejects (and destroys `out`) on a
 * body error, an abort, or more bytes than `limit`.
 */
function writeChunk(body: Readable, out: Writable, hash: Hash, limit: number | undefined, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      cleanup();
      body.unpipe?.();
      body.resume(); // drain what is left so the connection stays usable
      out.destroy();
      out.once('close', () => reject(e));
    };
    const onAbort = () => fail(signal?.reason ?? new Error('aborted'));
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (limit !== undefined && received > limit) return fail(new RegistryError('SIZE_INVALID', 'more bytes than announced'));
      hash.update(chunk);
      if (!out.write(chunk)) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      cleanup();
      // Resolve on 'finish' only: end()'s callback also runs when the final flush failed (ENOSPC, EIO),
      // and a short file must never be acknowledged. 'error' still goes to fail().
      out.once('finish', () => resolve(received));
      out.end();
    };
    const onBodyError = (e: Error) => fail(e);
    const onBodyClose = () => {
      // 'close' without 'end': the client went away mid-chunk.
      if (!body.readableEnded) fail(new Error('request body ended early'));
    };
    const cleanup = () => {
      body.off('data', onData).off('end', onEnd).off('error', onBodyError).off('close', onBodyClose);
      out.off('drain', onDrain);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return fail(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    out.on('drain', onDrain);
    out.once('error', (e) => fail(e));
    body.on('data', onData).once('end', onEnd).once('error', onBodyError).once('close', onBodyClose);
  });
}
