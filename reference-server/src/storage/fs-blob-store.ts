/**
 * BlobStore on a filesystem directory — local, or shared by several replicas (NFS and the like: it relies
 * only on rename(2) being atomic and on O_EXCL creation). Layout under the data directory:
 *
 *   <data>/
 *   ├── registry.db, registry.db-wal, registry.db-shm   metadata when on SQLite (metadata/sqlite/)
 *   ├── blobs/
 *   │   ├── sha256/
 *   │   │   └── 3f/
 *   │   │       └── 3f0a…e1          the blob's bytes; file name = full hex digest; never modified
 *   │   └── sha512/ …
 *   └── uploads/
 *       └── 7c9e…-uuid               bytes received so far by one upload session
 *
 * A blob file appears only by rename(2) of a fully written, fsynced and verified upload file, so a
 * partial or unverified blob is never visible, whatever happens to the process.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseDigest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { ResumableHash } from './resumable-hash.js';
import { checkLength, pumpBody } from './pump.js';
import { fileSink } from './file-sink.js';
import { sendFileRange } from './file-sender.js';
import {
  UPLOAD_ID_RE,
  type AppendOptions,
  type BlobStore,
  type BlobUpload,
  type ByteRange,
  type OpenedBlob,
  type StoredBlob,
  type UploadState,
} from './blob-store.js';

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

export interface FsBlobStoreOptions {
  /**
   * fsync a blob's directory after the rename, so that a power cut cannot keep the metadata record while
   * losing the directory entry (durability: full). Off by default: it costs a journal commit per blob, and
   * a killed process loses nothing without it.
   */
  readonly syncDirectories?: boolean;
}

export class FsBlobStore implements BlobStore {
  readonly kind = 'filesystem';
  private readonly blobsDir: string;
  private readonly uploadsDir: string;

  constructor(
    readonly dataDir: string,
    private readonly opts: FsBlobStoreOptions = {},
  ) {
    this.blobsDir = join(dataDir, 'blobs');
    this.uploadsDir = join(dataDir, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  async check(): Promise<void> {
    const probe = join(this.uploadsDir, `.probe-${process.pid}-${Date.now()}`);
    await writeFile(probe, 'ok');
    await unlink(probe);
  }

  /** Path of a blob. Only ever called with digests that parseDigest accepted: no path can escape. */
  blobPath(digest: string): string {
    const d = parseDigest(digest);
    if (!d) throw new Error(`refusing to map an unverified digest to a path: ${JSON.stringify(digest)}`);
    return join(this.blobsDir, d.algorithm, d.hex.slice(0, 2), d.hex);
  }

  uploadPath(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new Error('invalid upload id');
    return join(this.uploadsDir, id);
  }

  async stat(digest: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async open(digest: string, range?: ByteRange): Promise<OpenedBlob | null> {
    let fh;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const handle = fh;
    let stream: Readable | null = null;
    let sent = false;
    return {
      size,
      // Created on first access (and the same stream on every later one): GETs use sendTo and never build
      // a stream. 1 MiB reads: a quarter of the CPU of the 64 KiB default on large blobs. The stream owns
      // the handle (closed on end or destroy).
      get stream() {
        if (sent) throw new Error('OpenedBlob: sendTo already used the file; stream is not available');
        stream ??= handle.createReadStream({ highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
        return stream;
      },
      sendTo: async (out, signal) => {
        if (stream || sent) throw new Error('OpenedBlob: the file is already being read; sendTo is single-use');
        sent = true;
        if (size === 0) {
          await handle.close();
          out.end();
          return;
        }
        return sendFileRange(handle, start, end, out, signal, { endOutput: true });
      },
    };
  }

  async delete(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async *list(): AsyncIterable<StoredBlob> {
    for (const algorithm of ['sha256', 'sha512']) {
      const algDir = join(this.blobsDir, algorithm);
      let fanouts;
      try {
        fanouts = await opendir(algDir);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw e;
      }
      for await (const fan of fanouts) {
        if (!fan.isDirectory()) continue;
        for await (const f of await opendir(join(algDir, fan.name))) {
          const digest = `${algorithm}:${f.name}`;
          if (!f.isFile() || !parseDigest(digest)) continue;
          try {
            const s = await stat(join(algDir, fan.name, f.name));
            yield { digest, size: s.size, modifiedMs: s.mtimeMs };
          } catch {
            // deleted while listing
          }
        }
      }
    }
  }

  async startUpload(id: string): Promise<BlobUpload> {
    await writeFile(this.uploadPath(id), '', { flag: 'wx' });
    return new FsUpload(this, id, 0, ResumableHash.create('sha256'));
  }

  async resumeUpload(id: string, state: UploadState): Promise<BlobUpload> {
    const path = this.uploadPath(id);
    let onDisk: number;
    try {
      onDisk = (await stat(path)).size;
    } catch (e) {
      if (isNotFound(e)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload data is gone', { uuid: id });
      throw e;
    }
    if (onDisk < state.size) {
      // Acknowledged bytes are missing (a power cut before they reached the disk): the session cannot go on.
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload data is incomplete (${onDisk} of ${state.size} bytes)`, { uuid: id });
    }
    if (onDisk > state.size) await truncate(path, state.size); // a chunk cut by a crash
    let hash: ResumableHash;
    try {
      if (state.size === 0) return new FsUpload(this, id, 0, ResumableHash.create('sha256'));
      hash = ResumableHash.restore(state.hash);
      if (hash.bytes !== state.size) throw new Error('hash state does not cover the upload');
    } catch {
      hash = await rehash(createReadStream(path, { end: state.size - 1, highWaterMark: 1024 * 1024 }), state.size);
    }
    return new FsUpload(this, id, state.size, hash);
  }

  async *listUploads(): AsyncIterable<{ id: string; modifiedMs: number }> {
    for await (const f of await opendir(this.uploadsDir)) {
      if (!f.isFile() || !UPLOAD_ID_RE.test(f.name)) continue;
      try {
        const s = await stat(join(this.uploadsDir, f.name));
        yield { id: f.name, modifiedMs: s.mtimeMs };
      } catch {
        // removed while listing
      }
    }
  }

  async deleteUpload(id: string): Promise<void> {
    await rm(this.uploadPath(id), { force: true });
  }

  /** Moves a verified upload file into place as blob `digest` (or drops it when the blob exists). */
  async publish(id: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    const from = this.uploadPath(id);
    if ((await this.stat(digest)) !== null) {
      await rm(from, { force: true }); // already stored: content-addressed, so identical
      return;
    }
    const dir = join(target, '..');
    await mkdir(dir, { recursive: true });
    await rename(from, target);
    if (this.opts.syncDirectories) {
      const fh = await open(dir, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }

  async close(): Promise<void> {}
}

async function rehash(stream: Readable, expected: number): Promise<ResumableHash> {
  const hash = ResumableHash.create('sha256');
  for await (const chunk of stream) await hash.updateAsync(chunk as Buffer);
  if (hash.bytes !== expected) throw new Error(`upload file shorter than recorded (${hash.bytes} < ${expected})`);
  return hash;
}

class FsUpload implements BlobUpload {
  constructor(
    private readonly store: FsBlobStore,
    readonly id: string,
    private bytes: number,
    private hash: ResumableHash,
  ) {}

  get size(): number {
    return this.bytes;
  }

  state(): UploadState {
    return { size: this.bytes, hash: this.hash.save() };
  }

  async append(body: Readable, opts: AppendOptions = {}): Promise<number> {
    const path = this.store.uploadPath(this.id);
    const before = this.hash.copy();
    const hash = this.hash;
    try {
      const fh = await open(path, 'r+');
      let received: number;
      try {
        received = await pumpBody(body, fileSink(fh.fd, this.bytes, hash), {
          ...(opts.length !== undefined ? { limit: opts.length } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (e) {
        // The pump's error is the one to report (a close error would turn a 507 into a 500).
        await fh.close().catch(() => undefined);
        throw e;
      }
      await fh.close(); // on success a close error (NFS reports deferred write errors here) fails the append
      checkLength(received, opts.length);
      this.bytes += received;
      return this.bytes;
    } catch (e) {
      this.hash = before;
      await truncate(path, this.bytes).catch(() => undefined);
      throw e;
    }
  }

  async commit(expected: string): Promise<{ digest: string; size: number }> {
    const parsed = parseDigest(expected);
    if (!parsed) throw new RegistryError('DIGEST_INVALID', 'digest parameter is missing or not a supported digest', { digest: expected });
    const path = this.store.uploadPath(this.id);
    const actual =
      parsed.algorithm === 'sha256'
        ? this.hash.digest()
        : `${parsed.algorithm}:${(await hashFile(path, parsed.algorithm)).toString('hex')}`;
    if (actual !== expected) {
      await this.cancel();
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected, actual });
    }
    const fh = await open(path, 'r+');
    try {
      await fh.sync();
      // Backstop: never publish a file whose length differs from what was acknowledged.
      const { size } = await fh.stat();
      if (size !== this.bytes) throw new Error(`upload ${this.id}: ${size} bytes on disk, ${this.bytes} acknowledged; refusing to commit`);
    } finally {
      await fh.close();
    }
    await this.store.publish(this.id, expected);
    return { digest: expected, size: this.bytes };
  }

  async cancel(): Promise<void> {
    await this.store.deleteUpload(this.id);
  }
}

async function hashFile(path: string, algorithm: 'sha256' | 'sha512'): Promise<Buffer> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return h.digest();
}
