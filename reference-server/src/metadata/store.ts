/**
 * The registry's metadata store: blob records and per-repository links, manifests (their bytes, their
 * references, their subject), tags and upload sessions. Everything a listing needs comes from here, never
 * from a storage scan. Implementations: sqlite/ (embedded, one process) and postgres/ (any number of
 * replicas on one database). test/metadata-contract.ts runs against each.
 *
 * Contract for every implementation:
 * - Every method is atomic: it fully happens or not at all, whatever runs concurrently in this process
 *   or on other replicas.
 * - Invariants are kept by the store inside its own transactions, not by callers: a manifest is stored
 *   only if everything it references is present in the same transaction; tag immutability
 *   (registry/immutability.ts) is decided on facts read in the writing transaction; deletes re-check.
 * - commitBlob and the GC store's collectBlob/collectOrphan serialize per digest (a lock that spans the
 *   storage operation they are given), so a blob's bytes and its record appear and disappear together
 *   (see gc/README.md for the argument).
 */
import type { UploadState } from '../storage/blob-store.js';
import type { WriteRules } from '../registry/immutability.js';

/** See MetadataStore.touchBlob. */
export const SEEN_REFRESH_MS = 1000;

export interface BlobRecord {
  readonly digest: string;
  readonly size: number;
  readonly createdAt: number;
}

export interface ManifestReference {
  readonly digest: string;
  /** 'blob' for config and layers; 'manifest' for index children. */
  readonly kind: 'blob' | 'manifest';
  /** For an index child: the index says this child describes another manifest (see Attachment). */
  readonly describes?: Attachment;
}

/**
 * An index-attached referrer: BuildKit lists its attestation manifests in the image index, annotated
 * `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest: <platform manifest>`,
 * instead of giving them a `subject`. referrers(subject) lists such a child while the index that declares
 * it is stored (the relation lives with the index's references and goes with them).
 */
export interface Attachment {
  /** The manifest described (vnd.docker.reference.digest). */
  readonly subject: string;
  /** What referrers() reports as the child's artifactType (e.g. application/vnd.in-toto+json). */
  readonly artifactType: string;
  /** What referrers() reports as the child's annotations. */
  readonly annotations: Record<string, string> | null;
}

export interface ManifestRecord {
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly body: Buffer;
  /** Digest of the `subject` manifest, if any (OCI 1.1 referrers). */
  readonly subject: string | null;
  /** artifactType, or the config media type for images (referrers API rule). */
  readonly artifactType: string | null;
  readonly annotations: Record<string, string> | null;
  readonly createdAt: number;
}

export interface NewManifest {
  readonly repository: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly body: Buffer;
  readonly subject: string | null;
  readonly artifactType: string | null;
  readonly annotations: Record<string, string> | null;
  readonly references: readonly ManifestReference[];
  /** An in-toto attestation manifest (see registry/immutability.ts: it never takes an immutable tag). */
  readonly attestation: boolean;
}

export interface PutManifestResult {
  /** References missing from the repository; when non-empty nothing was written. */
  readonly missing: readonly ManifestReference[];
  /** An immutable tag names another digest (decideTag said conflict); nothing was written. */
  readonly conflict?: { readonly tag: string; readonly current: string };
  /** Tags now pointing at the manifest. */
  readonly tagsSet: readonly string[];
  /** Tags left where they were (decideTag said keep); the manifest was stored. */
  readonly tagsKept: readonly string[];
}

/** The outcome of a delete that the rules may refuse. */
export type DeleteOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'unknown' }
  | { readonly ok: false; readonly reason: 'immutable'; readonly what: string; readonly detail: Record<string, unknown> };

export interface Page {
  readonly n?: number;
  readonly last?: string;
}

export interface UploadRecord {
  readonly id: string;
  readonly repository: string;
  /** Bytes received so far (the next chunk must start here). */
  readonly offset: number;
  /** The blob driver's state after the last successful append. */
  readonly state: UploadState;
  readonly startedAt: number;
  readonly updatedAt: number;
}

export interface Referrer {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType: string | null;
  readonly annotations: Record<string, string> | null;
}

export interface MetadataStore {
  // --- blobs ---------------------------------------------------------------------------------------
  /** The registry-wide record of a blob, or null. */
  getBlob(digest: string): Promise<BlobRecord | null>;
  /** The blob's record if it is linked into `repository`, else null. */
  getLinkedBlob(repository: string, digest: string): Promise<BlobRecord | null>;
  /** Repositories the blob is linked into (for a cross-repository mount without `from`). */
  repositoriesWithBlob(digest: string): Promise<string[]>;
  /**
   * Commits an uploaded blob: holding the digest's lock (the one GC's collectBlob takes), runs `publish`
   * (which verifies the bytes and makes them the blob in storage, idempotently), then records the blob
   * (once) and links it into `repository`. If `publish` throws, nothing is recorded and the error is
   * rethrown.
   */
  commitBlob(digest: string, repository: string, publish: () => Promise<{ readonly size: number }>): Promise<BlobRecord>;
  /** Links an existing blob into `repository` (cross-repository mount). False if the blob is unknown. */
  linkBlob(digest: string, repository: string): Promise<boolean>;
  /**
   * A client is looking at the blob (HEAD/GET) and may reference it in a manifest next: restarts the GC
   * grace of its link in `repository` (last_referenced_at = now) when the link's times are older than
   * SEEN_REFRESH_MS — at most one write a second per link, however hot the blob. Called BEFORE the
   * lookup that answers the client: either the refresh lands first (GC then keeps the link for the grace
   * period), or GC removed the link first and the lookup answers 404 (the client uploads).
   */
  touchBlob(repository: string, digest: string): Promise<void>;
  /** Removes the link, unless the rules refuse it (a referenced blob in an immutable repository). */
  unlinkBlob(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome>;

  // --- manifests and tags ----------------------------------------------------------------------------
  /**
   * Stores a manifest and points `tags` at it — one transaction. Every reference must be present in the
   * repository (blobs linked, child manifests stored), checked in that transaction (a blob reference takes
   * the link row so GC cannot remove it underneath). Each tag is decided by decideTag on facts read in the
   * same transaction; a conflict on any tag writes nothing. Storing an existing manifest again is fine.
   */
  putManifest(m: NewManifest, tags: readonly string[], rules: WriteRules): Promise<PutManifestResult>;
  getManifest(repository: string, digest: string): Promise<ManifestRecord | null>;
  /** The digest a tag points at, or null. */
  resolveTag(repository: string, tag: string): Promise<string | null>;
  /** Deletes a manifest and every tag that points at it, unless the rules refuse it. */
  deleteManifest(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome>;
  /** Deletes one tag (the manifest stays), unless the rules refuse it. */
  deleteTag(repository: string, tag: string, rules: WriteRules): Promise<DeleteOutcome>;
  /** Tags in lexical (byte) order after `last`, at most `n`. */
  listTags(repository: string, page: Page): Promise<string[]>;
  /** True when the repository has any manifest, tag or blob link. */
  repositoryExists(repository: string): Promise<boolean>;
  /** Repository names in lexical (byte) order after `last`, at most `n`. */
  listRepositories(page: Page): Promise<string[]>;
  /**
   * Manifests in `repository` whose subject is `subject`, plus index-attached referrers (a stored index
   * in `repository` lists the manifest with `describes.subject === subject`; reported with the
   * Attachment's artifactType and annotations). Each digest once (its own subject wins), ordered by
   * digest, optionally filtered by artifactType.
   */
  referrers(repository: string, subject: string, artifactType?: string): Promise<Referrer[]>;

  // --- upload sessions -----------------------------------------------------------------------------
  createUpload(id: string, repository: string, state: UploadState): Promise<UploadRecord>;
  getUpload(id: string): Promise<UploadRecord | null>;
  /**
   * Takes the session's lease for `owner` until now + `ttlMs` when nobody holds it (or the holder's lease
   * expired): one writer per session across replicas. Returns the record, 'busy', or null when unknown.
   */
  claimUpload(id: string, owner: string, ttlMs: number): Promise<UploadRecord | 'busy' | null>;
  /** Extends a lease still held by `owner`; false when it was lost. */
  renewUpload(id: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Saves the state after a successful append and releases the lease; false (nothing saved) if `owner` lost it. */
  saveUpload(id: string, owner: string, state: UploadState): Promise<boolean>;
  /** Releases the lease without changing the state (the append failed and was rolled back). */
  releaseUpload(id: string, owner: string): Promise<void>;
  deleteUpload(id: string): Promise<void>;
  /** Sessions not updated since `before` (ms since epoch) and not leased now. */
  staleUploads(before: number): Promise<UploadRecord[]>;
}
