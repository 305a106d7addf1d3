/**
 * BlobStore on the local filesystem. On-disk layout under the data directory:
 *
 *   <data>/
 *   ├── registry.db, registry.db-wal, registry.db-shm   metadata (SQLite, see metadata/sqlite-store.ts)
 *   ├── jwt/ …                                          token signing keys (auth)
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
import { closeSync, createReadStream, createWriteStream, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, opendir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parseDigest } from '../oci/digest.js';
import type { BlobStore, ByteRange, StoredBlob } from './blob-store.js';

const UPLOAD_ID_RE = /^[a-zA-Z0-9-]{8,64}$/;

export class FsBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;

  /**
   * @param opts.syncDirectories fsync a blob's directory after the rename, so that a power cut cannot keep
   *   the metadata record (durability: full) while losing the directory entry. Off by default: it costs a
   *   journal commit per blob, and a killed process loses nothing without it.
   */
  constructor(
    dataDir: string,
    private readonly opts: { syncDirectories?: boolean } = {},
  ) {
    this.blobsDir = join(dataDir, 'blobs');
    this.uploadsDir = join(dataDir, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  /** Path of a blob. Only ever called with digests that parseDigest accepted: no path can escape. */
  private blobPath(digest: string): string {
    const d = parseDigest(digest);
    if (!d) throw new Error(`refusing to map an unverified digest to a path: ${JSON.stringify(digest)}`);
    return join(this.blobsDir, d.algorithm, d.hex.slice(0, 2), d.hex);
  }

  private uploadPath(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new Error('invalid upload id');
    return join(this.uploadsDir, id);
  }

  async stat(digest: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  read(digest: string, range?: ByteRange): Readable {
    // 1 MiB reads: a quarter of the CPU of the 64 KiB default on large blobs (no sendfile in Node), and
    // small blobs only allocate what they need.
    return createReadStream(this.blobPath(digest), {
      highWaterMark: 1024 * 1024,
      ...(range ? { start: range.start, end: range.end } : {}),
    });
  }

  async createUpload(id: string): Promise<void> {
    await writeFile(this.uploadPath(id), '', { flag: 'wx' });
  }

  async uploadSize(id: string): Promise<number | null> {
    try {
      return (await stat(this.uploadPath(id))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  appendUpload(id: string, offset: number): Writable {
    return createWriteStream(this.uploadPath(id), { flags: 'r+', start: offset, highWaterMark: 256 * 1024 });
  }

  async truncateUpload(id: string, size: number): Promise<void> {
    await truncate(this.uploadPath(id), size);
  }

  readUpload(id: string): Readable {
    return createReadStream(this.uploadPath(id), { highWaterMark: 256 * 1024 });
  }

  async syncUpload(id: string): Promise<void> {
    const fh = await open(this.uploadPath(id), 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  commitUploadSync(id: string, digest: string): void {
    const target = this.blobPath(digest);
    const from = this.uploadPath(id);
    try {
      statSync(target);
      rmSync(from, { force: true }); // already stored: content-addressed, so identical
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      renameSync(from, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // First blob in this fan-out directory: create it and retry. mkdirSync keeps the block synchronous.
      mkdirSync(join(target, '..'), { recursive: true });
      renameSync(from, target);
    }
    if (this.opts.syncDirectories) {
      const fd = openSync(join(target, '..'), 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  async deleteUpload(id: string): Promise<void> {
    await rm(this.uploadPath(id), { force: true });
  }

  deleteSync(digest: string): void {
    rmSync(this.blobPath(digest), { force: true });
  }

  async *listUploads(): AsyncIterable<{ id: string; size: number; modifiedMs: number }> {
    for await (const f of await opendir(this.uploadsDir)) {
      if (!f.isFile() || !UPLOAD_ID_RE.test(f.name)) continue;
      try {
        const s = await stat(join(this.uploadsDir, f.name));
        yield { id: f.name, size: s.size, modifiedMs: s.mtimeMs };
      } catch {
        // removed while listing
      }
    }
  }

  async *list(): AsyncIterable<StoredBlob> {
    for (const algorithm of ['sha256', 'sha512']) {
      const algDir = join(this.blobsDir, algorithm);
      let fanouts;
      try {
        fanouts = await opendir(algDir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
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
}
