/**
 * What garbage collection and repository statistics need from the metadata: whole-repository reads, and
 * deletions that re-check their condition in their own transaction. Implemented next to each
 * MetadataStore (sqlite/gc-store.ts, postgres/gc-store.ts) on the same tables; the contract suite in
 * test/gc-store-contract.ts runs against each.
 *
 * The conditions themselves (gc/mark.ts: mayDeleteManifest, mayDeleteLink, mayDeleteBlob) are passed in
 * as predicates; the store's job is to read the state under the right lock, in the deleting transaction,
 * so that whatever changed since the mark can only make GC keep more.
 */
import type { BlobRecord } from './store.js';

export interface GcManifestRow {
  readonly digest: string;
  readonly subject: string | null;
  readonly createdAt: number;
  readonly size: number;
  readonly tagged: boolean;
}

export interface GcRefRow {
  /** The manifest holding the reference. */
  readonly parent: string;
  readonly child: string;
  readonly kind: 'blob' | 'manifest';
}

export interface GcLinkRow {
  readonly digest: string;
  readonly size: number;
  readonly linkedAt: number;
  readonly lastReferencedAt: number | null;
}

/** What a manifest deletion must re-check, read in the deleting transaction. */
export interface GcManifestState {
  readonly subject: string | null;
  readonly createdAt: number;
  readonly tagged: boolean;
  /** Another manifest in the same repository lists it as an index child. */
  readonly isChild: boolean;
  /** Its subject is stored in the same repository. */
  readonly subjectPresent: boolean;
}

export interface GcLinkState {
  readonly linkedAt: number;
  readonly lastReferencedAt: number | null;
  /** A manifest in the same repository references the blob. */
  readonly referenced: boolean;
}

export interface GcBlobState {
  readonly size: number;
  readonly createdAt: number;
  /** Links in all repositories. */
  readonly links: number;
  /** Manifest references in all repositories. */
  readonly references: number;
}

export interface GcRunRecord {
  readonly scope: string;
  readonly finishedAt: number;
  readonly dryRun: boolean;
  readonly report: unknown;
}

/** Counts over a set of image names, from the metadata only (no storage scan). */
export interface UsageCounts {
  /** Image names with content. */
  readonly images: number;
  readonly tags: number;
  readonly manifests: number;
  /** Distinct blobs linked into any of the names. */
  readonly blobs: number;
  /** Bytes of those distinct blobs plus the distinct manifests' bodies (each digest counted once). */
  readonly bytes: number;
  /** Latest manifest push into any of the names (ms), or null. */
  readonly lastPush: number | null;
}

export type CollectOutcome = 'deleted' | 'kept' | 'gone';

export interface GcStore {
  /** Every image name that holds a manifest, a tag or a blob link. */
  imageNames(): Promise<string[]>;
  manifestsOf(repository: string): Promise<GcManifestRow[]>;
  refsOf(repository: string): Promise<GcRefRow[]>;
  linksOf(repository: string): Promise<GcLinkRow[]>;

  /**
   * One transaction: reads the manifest's state (locking its row) and, when `may(state)` holds, deletes
   * it with its references and tags. The deletion does not restart any grace period.
   */
  collectManifest(repository: string, digest: string, may: (s: GcManifestState) => boolean): Promise<CollectOutcome>;
  /** One transaction: reads the link's state (locking its row) and deletes it when `may(state)` holds. */
  collectLink(repository: string, digest: string, may: (s: GcLinkState) => boolean): Promise<CollectOutcome>;

  /** Blob records with no link and no manifest reference anywhere, in digest order after `after`. */
  unusedBlobs(after: string | null, limit: number): Promise<BlobRecord[]>;
  /**
   * Holding the digest's lock (the one MetadataStore.commitBlob takes): re-reads the blob's state, and when
   * `may(state)` holds deletes the record and commits, then runs `deleteBytes` before releasing the lock.
   * Returns the bytes freed, or null when the blob was kept or is gone. A crash after the commit leaves
   * bytes without a record (an orphan, collected later), never a record without bytes.
   */
  collectBlob(digest: string, may: (s: GcBlobState) => boolean, deleteBytes: () => Promise<void>): Promise<number | null>;
  /** Holding the digest's lock: when the blob has no record, runs `deleteBytes` and returns true. */
  collectOrphan(digest: string, deleteBytes: () => Promise<void>): Promise<boolean>;

  recordGcRun(run: GcRunRecord): Promise<void>;
  /** Time of the latest non-dry run among `scopes`, or null. */
  lastGcRun(scopes: readonly string[]): Promise<number | null>;
  usage(names: readonly string[]): Promise<UsageCounts>;

  /**
   * Runs `fn` against a view of the metadata whose changes are thrown away afterwards (a dry run reports
   * exactly what a real run would delete). Nothing done through the view reaches the real store.
   */
  dryRun<T>(fn: (view: GcStore) => Promise<T>): Promise<T>;
  /** Runs `fn` holding the registry-wide GC lock: one GC run at a time across all replicas. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}
