/**
 * The blob storage driver: immutable content-addressed blobs, and the bytes of upload sessions until they
 * become blobs. It stores bytes only; which repository may see a blob, and whether it exists at all for
 * clients, is the metadata store's business (a blob is visible only once its record exists). Drivers:
 * fs-blob-store.ts (a local or shared directory) and s3-blob-store.ts (any S3-compatible store). One
 * contract suite (test/blob-store-contract.ts) runs against every driver.
 *
 * Every method is async and safe to call from several processes at once (replicas sharing a directory or
 * a bucket). The driver never decides on its own that a blob may go: deletes come from GC, which calls
 * `delete` only while it holds the metadata store's lock on that digest (see gc/README.md).
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

/** An upload's bytes as the driver keeps them; JSON, persisted by the metadata store between requests. */
export interface UploadState {
  /** Bytes received so far. */
  readonly size: number;
  /** The running sha256 of those bytes (ResumableHash.save()), so any replica can continue it. */
  readonly hash: string;
  /** Driver-specific (e.g. S3 multipart upload id and parts). Opaque to everyone else. */
  readonly driver?: unknown;
}

export interface AppendOptions {
  /** Exact number of bytes the body must carry (Content-Length, or the Content-Range span). */
  readonly length?: number;
  /** Aborts the append (client gone, server shutting down); the upload is left as before the call. */
  readonly signal?: AbortSignal;
}

/**
 * One upload session's bytes. Obtained from BlobStore.startUpload/resumeUpload; the caller persists
 * `state()` after every successful append and passes it back to resumeUpload on the next request — on
 * this replica or another. The caller guarantees one writer at a time per session (the metadata store's
 * upload lease).
 */
export interface BlobUpload {
  readonly id: string;
  /** Bytes received so far. */
  readonly size: number;
  /** What to persist after a successful append (and what resumeUpload takes back). */
  state(): UploadState;
  /**
   * Streams `body` onto the end of the upload, hashing it on the way. Resolves with the new size once
   * the bytes are stored (readable by resumeUpload on any replica). All or nothing: on any failure (body
   * error, abort, length mismatch → RegistryError SIZE_INVALID, storage error) the upload is left exactly
   * as it was before the call and the error is rethrown. The body is always consumed or destroyed.
   */
  append(body: Readable, opts?: AppendOptions): Promise<number>;
  /**
   * Verifies that the bytes hash to `expected` (sha256 from the running hash; sha512 by reading the bytes
   * back) and makes them blob `expected`, atomically: readers see the whole blob or nothing. If the blob
   * already exists the upload's bytes are dropped (content addressing: they are identical). On a digest
   * mismatch it throws RegistryError DIGEST_INVALID and discards the upload. After a successful commit
   * the upload is gone. Called under the metadata store's lock on `expected` (commitBlob).
   */
  commit(expected: string): Promise<{ readonly digest: string; readonly size: number }>;
  /** Discards the upload's bytes. Idempotent: a missing upload is fine. */
  cancel(): Promise<void>;
}

export interface OpenedBlob {
  /**
   * The bytes (or the requested range). Use either this or sendTo(); every access returns the same
   * stream. The stream must be consumed or destroyed (destroy releases the handle).
   */
  readonly stream: Readable;
  /** The blob's full size. */
  readonly size: number;
  /**
   * Optional faster path for big responses: writes the bytes (or range) to `out`, ending `out` with the
   * last byte (a response finishes when its bytes are flushed), and releases the handle. Once, and not
   * after `stream`. The filesystem driver sends from reused buffers (storage/file-sender.ts).
   */
  sendTo?(out: Writable, signal?: AbortSignal): Promise<void>;
}

export interface BlobStore {
  /** 'filesystem' | 's3' — for logs and /readyz. */
  readonly kind: string;
  /** Creates what the driver needs (directories; checks the bucket). Idempotent. */
  init(): Promise<void>;
  /** Throws when the storage cannot be reached or written (readiness probe). */
  check(): Promise<void>;

  /** Size in bytes of the stored blob, or null when it is not stored. */
  stat(digest: string): Promise<number | null>;
  /** Opens the blob (or `range` of it) for reading; null when it is not stored. */
  open(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<OpenedBlob | null>;
  /**
   * A URL a client may fetch the blob from directly (a presigned S3 GET), or null when the driver serves
   * bytes only through open(). Drivers without redirect support omit it.
   */
  redirectUrl?(digest: string): Promise<string | null>;
  /** Removes a stored blob. Idempotent. Only GC calls it, under the metadata store's lock on the digest. */
  delete(digest: string): Promise<void>;
  /** Every stored blob (GC's orphan sweep, migrations). */
  list(): AsyncIterable<StoredBlob>;

  /** Starts the storage of a new upload session (empty). */
  startUpload(id: string): Promise<BlobUpload>;
  /**
   * Continues a session from the state persisted after its last successful append. Bytes stored past
   * `state.size` (a chunk cut by a crash) are ignored and overwritten. Throws RegistryError
   * BLOB_UPLOAD_UNKNOWN when the session's bytes are gone.
   */
  resumeUpload(id: string, state: UploadState): Promise<BlobUpload>;
  /** Upload sessions present in storage (GC: bytes whose session record is gone). */
  listUploads(): AsyncIterable<{ readonly id: string; readonly modifiedMs: number }>;
  /** Discards a session's bytes by id alone (its record may be gone). Idempotent. */
  deleteUpload(id: string): Promise<void>;

  /** Releases clients and handles. */
  close(): Promise<void>;
}

/** Upload ids are UUIDs we generate; anything else never reaches a driver (no path or key can escape). */
export const UPLOAD_ID_RE = /^[a-zA-Z0-9-]{8,64}$/;
