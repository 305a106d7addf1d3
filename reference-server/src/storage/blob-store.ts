/**
 * The blob storage driver: immutable content-addressed blobs plus the scratch files of upload sessions.
 * It stores bytes only; hashing, sessions and visibility (per-repository links) live above it. Drivers:
 * fs-blob-store.ts (local disk). An S3-compatible driver implements the same contract; the contract
 * suite (test/blob-store-contract.ts) runs against every driver.
 */
import type { Readable, Writable } from 'node:stream';

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive. */
  readonly end: number;
}

export interface StoredBlob {
  readonly digest: string;
  readonly size: number;
  readonly modifiedMs: number;
}

export interface BlobStore {
  /** Size in bytes of the committed blob, or null when it is not stored. */
  stat(digest: string): Promise<number | null>;
  /**
   * A stream of the committed blob's bytes (or of `range`). Opening is lazy: a missing blob surfaces as
   * an 'error' event with code ENOENT. Destroying the stream releases the file handle.
   */
  read(digest: string, range?: ByteRange): Readable;

  /** Creates the empty scratch file of a new upload session. */
  createUpload(id: string): Promise<void>;
  /** Bytes currently in the session's scratch file, or null when the session has no file. */
  uploadSize(id: string): Promise<number | null>;
  /** A writable that appends to the scratch file; the caller guarantees the file holds exactly `offset` bytes. */
  appendUpload(id: string, offset: number): Writable;
  /** Cuts the scratch file back to `size` bytes (after an aborted chunk). */
  truncateUpload(id: string, size: number): Promise<void>;
  /** Streams the scratch file from the beginning (to rebuild a hash after a restart). */
  readUpload(id: string): Readable;
  /** Makes the scratch file's bytes durable (fsync) before commit. */
  syncUpload(id: string): Promise<void>;
  /**
   * Moves the scratch file into place as blob `digest`, atomically: readers see the whole blob or
   * nothing. If the blob already exists the scratch file is just removed. Synchronous on purpose: the
   * caller records the blob in the metadata store in the same synchronous block (see metadata/store.ts).
   */
  commitUploadSync(id: string, digest: string): void;
  /** Removes a session's scratch file (cancel, failure, expiry). Missing files are fine. */
  deleteUpload(id: string): Promise<void>;

  /** Removes a committed blob. Synchronous for the same reason as commitUploadSync. Missing is fine. */
  deleteSync(digest: string): void;
  /** Every committed blob (for GC's orphan sweep and fsck). */
  list(): AsyncIterable<StoredBlob>;
  /** Every upload scratch file (for GC: files whose session record is gone). */
  listUploads(): AsyncIterable<{ readonly id: string; readonly size: number; readonly modifiedMs: number }>;
}
