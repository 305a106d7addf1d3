/**
 * The metadata store: repositories, blob records and per-repository links, manifests (their bytes, their
 * references, their subject), tags and upload sessions. Everything a listing needs comes from here, never
 * from a disk scan. Implementations: sqlite-store.ts (embedded, single process). A PostgreSQL store for
 * multi-replica deployments implements the same contract (test/metadata-contract.ts runs against each).
 *
 * Contract for every implementation:
 * - Each method is atomic: it either fully happens or not at all.
 * - Methods are synchronous on purpose: the embedded store runs them on the event loop thread, which is
 *   what makes a blob commit (file rename + record insert) and a GC sweep of that blob (record delete +
 *   file unlink) impossible to interleave. See gc/ for the safety rule built on it.
 */

export interface BlobRecord {
  readonly digest: string;
  readonly size: number;
  readonly createdAt: number;
}

export interface ManifestReference {
  readonly digest: string;
  /** 'blob' for config and layers; 'manifest' for index children. */
  readonly kind: 'blob' | 'manifest';
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
  /** JSON of the manifest's annotations, or null. */
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
  /** An in-toto attestation manifest (see putManifest: it never takes an immutable tag). */
  readonly attestation?: boolean;
}

export interface PutManifestResult {
  /** The references that are missing from the repository; when non-empty nothing was written. */
  readonly missing: readonly ManifestReference[];
  /** Set when allowTagOverwrite was false and the tag already named another digest; nothing was written. */
  readonly tagConflict?: { readonly existingDigest: string };
  /**
   * Set when allowTagOverwrite was false and the manifest is a child of the index the tag names: the
   * manifest was stored, the tag was left on the index (see putManifest).
   */
  readonly tagKept?: boolean;
}

export interface Page {
  readonly n?: number;
  readonly last?: string;
}

export interface UploadRecord {
  readonly id: string;
  readonly repository: string;
  /** Bytes received so far (the next chunk must start here). */
  readonly offset: number;
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
  getBlob(digest: string): BlobRecord | null;
  /** Records a committed blob (idempotent) and links it into `repository` (refreshing the link time). */
  addBlobAndLink(digest: string, size: number, repository: string): void;
  /** Links an existing blob into `repository` (cross-repository mount). False if the blob is unknown. */
  linkBlob(digest: string, repository: string): boolean;
  /** The blob's record if it is linked into `repository`, else null. */
  getLinkedBlob(repository: string, digest: string): BlobRecord | null;
  /** Repositories the blob is linked into (for a cross-repository mount without `from`). */
  repositoriesWithBlob(digest: string): string[];
  /** True when a manifest stored in `repository` references the blob (as config or layer). */
  blobReferenced(repository: string, digest: string): boolean;
  /** True when an index stored in `repository` lists the manifest as a child. */
  manifestReferenced(repository: string, digest: string): boolean;
  /** Removes the link; false if there was none. The blob itself is left to GC. */
  unlinkBlob(repository: string, digest: string): boolean;

  // --- manifests and tags ----------------------------------------------------------------------------
  /**
   * Stores a manifest and, when `tag` is given, points the tag at it — one transaction. Every reference
   * must be present in the repository (blobs linked, child manifests stored), checked in that same
   * transaction. When allowTagOverwrite is false and the tag names another digest, nothing is written —
   * except for the two moves a multi-platform push makes, which never change what the tag serves for a
   * platform: (1) the tag names manifest M and the new manifest is an index that lists M and otherwise only
   * attestation manifests (the tag moves up to the index; nothing runnable is added); (2) the tag names an index and the new manifest is one of its children (Docker's
   * containerd-store push re-sends every child to the tag after the index; the child is stored and the tag
   * stays on the index: `tagKept`). And an attestation manifest sent to the tag (the same push, before its
   * index arrives) is stored without taking the tag: an attestation is never what a tag should serve.
   */
  putManifest(m: NewManifest, tag: string | null, opts: { allowTagOverwrite: boolean }): PutManifestResult;
  getManifest(repository: string, digest: string): ManifestRecord | null;
  /** The digest a tag points at, or null. */
  resolveTag(repository: string, tag: string): string | null;
  /** Deletes a manifest and every tag that points at it. False if it was not there. */
  deleteManifest(repository: string, digest: string): boolean;
  /** Deletes one tag (the manifest stays). False if it was not there. */
  deleteTag(repository: string, tag: string): boolean;
  /** Tags in lexical (byte) order after `last`, at most `n`. */
  listTags(repository: string, page: Page): string[];
  /** Tags currently pointing at `digest`. */
  tagsOf(repository: string, digest: string): string[];
  /** True when the repository has any manifest, tag or blob link. */
  repositoryExists(repository: string): boolean;
  /** Repository names in lexical order after `last`, at most `n`. */
  listRepositories(page: Page): string[];
  /** Manifests in `repository` whose subject is `subject`, optionally filtered by artifactType. */
  referrers(repository: string, subject: string, artifactType?: string): Referrer[];

  // --- upload sessions -----------------------------------------------------------------------------
  createUpload(id: string, repository: string): UploadRecord;
  getUpload(id: string): UploadRecord | null;
  setUploadOffset(id: string, offset: number): void;
  deleteUpload(id: string): void;
  /** Sessions not updated since `before` (ms since epoch). */
  staleUploads(before: number): UploadRecord[];

  close(): void;
}

// --- garbage collection and stats ----------------------------------------------------------------------
// A separate interface so MetadataStore's contract stays as it is: GC needs whole-repository reads and
// deletions that re-check their condition in their own transaction. Implemented by sqlite-gc-store.ts.

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

/** Counts over a set of image names, from the metadata only (no disk scan). */
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

export interface GcMetadata {
  /** Runs `fn` in one transaction (a savepoint when nested); an exception rolls it back. */
  transaction<T>(fn: () => T): T;
  /** Every image name that holds a manifest, a tag or a blob link. */
  imageNames(): string[];
  manifestsOf(repository: string): GcManifestRow[];
  refsOf(repository: string): GcRefRow[];
  linksOf(repository: string): GcLinkRow[];

  manifestState(repository: string, digest: string): GcManifestState | null;
  /** Deletes the manifest and its references (and tags, if any). Does not restart any grace period. */
  removeManifest(repository: string, digest: string): boolean;
  linkState(repository: string, digest: string): GcLinkState | null;
  removeLink(repository: string, digest: string): boolean;

  /** Blob records with no link and no manifest reference in any repository. */
  unusedBlobs(): BlobRecord[];
  blobState(digest: string): GcBlobState | null;
  removeBlobRecord(digest: string): boolean;

  recordGcRun(run: GcRunRecord): void;
  /** Time of the latest non-dry run among `scopes`, or null. */
  lastGcRun(scopes: readonly string[]): number | null;
  usage(names: readonly string[]): UsageCounts;
}
