/**
 * Copies every blob of one BlobStore into another (filesystem → S3 for `nitro-registry migrate-blobs`),
 * without the metadata: the database keeps naming the same digests, so switching `storage.driver` after
 * the copy is the whole migration.
 *
 * - Resumable: a blob already in the destination with the right size is skipped, so an interrupted run
 *   is simply started again. One that is there with another size is reported, never overwritten (only
 *   GC deletes blobs, under its lock).
 * - Verified while streaming: each blob goes through the destination's upload path, whose commit checks
 *   the digest before the blob becomes visible — a corrupt source file is reported, not copied.
 * - Bounded memory: blobs stream through (the S3 driver holds at most a few parts per blob), `concurrency`
 *   at a time.
 */
import { randomUUID } from 'node:crypto';
import type { BlobStore, StoredBlob } from './blob-store.js';

export interface MigrateOptions {
  /** Blobs copied at once (default 4). */
  readonly concurrency?: number;
  /** Report what would be copied; copy nothing. */
  readonly dryRun?: boolean;
  /** Called after each blob (progress output). */
  readonly onBlob?: (b: StoredBlob, outcome: 'copied' | 'present' | 'failed', error?: Error) => void;
  readonly signal?: AbortSignal;
}

export interface MigrateReport {
  copied: number;
  copiedBytes: number;
  /** Already in the destination with the right size. */
  present: number;
  failed: { digest: string; error: string }[];
}

export async function migrateBlobs(from: BlobStore, to: BlobStore, opts: MigrateOptions = {}): Promise<MigrateReport> {
  const report: MigrateReport = { copied: 0, copiedBytes: 0, present: 0, failed: [] };
  const one = async (b: StoredBlob) => {
    try {
      const there = await to.stat(b.digest);
      if (there === b.size) {
        report.present++;
        opts.onBlob?.(b, 'present');
        return;
      }
      if (there !== null) throw new Error(`already in the destination with ${there} bytes instead of ${b.size}; left alone`);
      if (!opts.dryRun) await copyOne(from, to, b, opts.signal);
      report.copied++;
      report.copiedBytes += b.size;
      opts.onBlob?.(b, 'copied');
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      report.failed.push({ digest: b.digest, error: (e as Error).message });
      opts.onBlob?.(b, 'failed', e as Error);
    }
  };
  // A fixed pool of workers pulling from the listing: at most `concurrency` blobs open at once.
  const listing = from.list()[Symbol.asyncIterator]();
  let done = false;
  const next = async (): Promise<StoredBlob | null> => {
    if (done) return null;
    const r = await listing.next();
    if (r.done) done = true;
    return r.done ? null : r.value;
  };
  const worker = async () => {
    for (let b = await next(); b !== null; b = await next()) {
      opts.signal?.throwIfAborted();
      await one(b);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  return report;
}

async function copyOne(from: BlobStore, to: BlobStore, b: StoredBlob, signal?: AbortSignal): Promise<void> {
  const opened = await from.open(b.digest, undefined, signal);
  if (!opened) throw new Error('disappeared from the source while migrating');
  const up = await to.startUpload(`migrate-${randomUUID()}`);
  try {
    await up.append(opened.stream, { length: b.size, ...(signal ? { signal } : {}) });
    await up.commit(b.digest); // DIGEST_INVALID when the source bytes are not what their name says
  } catch (e) {
    opened.stream.destroy();
    await up.cancel().catch(() => undefined);
    throw e;
  }
}
