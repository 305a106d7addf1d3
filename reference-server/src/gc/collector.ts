/**
 * The garbage collector: mark & sweep over the metadata, then orphaned bytes and expired uploads. Read
 * gc/README.md for the safety argument; the short version is in each step's comment below.
 *
 * The mark is computed from a snapshot and is stale by the time the sweep runs (pushes go on, here and on
 * other replicas): every deletion is a GcStore method that re-checks its condition in its own transaction,
 * under the row (or digest) lock, so anything that changed since can only make GC keep more. A dry run
 * runs the same sweep against GcStore.dryRun's throw-away view and touches no storage.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataStore } from '../metadata/store.js';
import type { GcStore } from '../metadata/gc-store.js';
import { blobVerdict, linkVerdict, mark, mayDeleteManifest, type Cutoffs } from './mark.js';
import { resolvePolicy, type GcConfig, type GcPolicy, type GcRunOptions } from './policy.js';
import { WHOLE_REGISTRY, type RepositoryScope } from './scope.js';
import type { GcMetrics } from './metrics.js';

/** What a dry run would delete (the report lists the first CANDIDATE_LIMIT of them). */
export interface GcCandidate {
  readonly kind: 'manifest' | 'link' | 'blob' | 'orphan_file' | 'upload';
  readonly digest: string;
  /** The image name, for manifests and links. */
  readonly repository?: string;
  readonly size?: number;
}

export interface GcReport {
  repository_id: string;
  dry_run: boolean;
  /** The grace period this run used (seconds), and the untagged-manifest age when those are deleted. */
  grace_seconds: number;
  delete_untagged_after_seconds: number | null;
  manifests_deleted: number;
  /** Per-repository blob links removed (a blob is deleted once it has none left anywhere). */
  links_deleted: number;
  blobs_deleted: number;
  /** Blob files without a metadata record (left by a crash) removed. */
  orphan_files_deleted: number;
  bytes_freed: number;
  uploads_purged: number;
  /** Kept only because they are younger than the grace period (or the untagged age). */
  skipped_too_new: { manifests: number; links: number; blobs: number; bytes: number };
  /** Dry runs only: what would be deleted (at most CANDIDATE_LIMIT entries; candidates_total counts all). */
  candidates?: GcCandidate[];
  candidates_total?: number;
  duration_ms: number;
}

export interface GcDeps {
  readonly gcStore: GcStore;
  readonly meta: Pick<MetadataStore, 'staleUploads' | 'getBlob' | 'getUpload'>;
  readonly blobs: BlobStore;
  /** Purges expired upload sessions (UploadService.purgeStale); absent: sessions are left alone. */
  readonly purgeUploads?: (cutoff: number) => Promise<number>;
  readonly uploadTtlSeconds: number;
  readonly config: GcConfig;
  readonly log?: Logger;
  readonly metrics?: GcMetrics;
  /** Clock (ms); must be the metadata store's clock. */
  readonly now?: () => number;
}

export interface RunRequest extends GcRunOptions {
  readonly scope?: RepositoryScope;
  /** Who asked (audit log): an account name, 'schedule' or 'cli'. */
  readonly principal?: string | null;
  /**
   * Walk the stored blobs for orphans (bytes without a record, left by a crash). They belong to no
   * repository, and the walk is the one part that lists storage: default true for whole-registry runs
   * (schedule, CLI), false for runs scoped to one repository.
   */
  readonly orphanFiles?: boolean;
}

export const CANDIDATE_LIMIT = 100;
/** Deletions between two pauses to the event loop. */
const BATCH = 32;
const PAGE = 256;

type Counts = Omit<GcReport, 'repository_id' | 'dry_run' | 'duration_ms' | 'grace_seconds' | 'delete_untagged_after_seconds'> & {
  candidates: GcCandidate[];
  candidates_total: number;
};

export class GarbageCollector {
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: GcDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Runs GC; one run at a time across every replica (a second request waits for the first). */
  run(req: RunRequest = {}): Promise<GcReport> {
    const next = this.queue.then(() => this.deps.gcStore.exclusive(() => this.runNow(req)));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when no run of this process is in progress or queued (for shutdown). */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async runNow(req: RunRequest): Promise<GcReport> {
    const scope = req.scope ?? WHOLE_REGISTRY;
    const dryRun = req.dryRun ?? false;
    const policy = resolvePolicy(this.deps.config, scope.id, req);
    const started = this.now();
    const t0 = process.hrtime.bigint();
    const cut = cutoffs(policy, started);
    const counts: Counts = {
      manifests_deleted: 0,
      links_deleted: 0,
      blobs_deleted: 0,
      orphan_files_deleted: 0,
      bytes_freed: 0,
      uploads_purged: 0,
      skipped_too_new: { manifests: 0, links: 0, blobs: 0, bytes: 0 },
      candidates: [],
      candidates_total: 0,
    };
    const { gcStore, metrics } = this.deps;
    const note = (c: GcCandidate) => {
      if (!dryRun) return;
      counts.candidates_total++;
      if (counts.candidates.length < CANDIDATE_LIMIT) counts.candidates.push(c);
    };
    try {
      const sweep = async (store: GcStore) => {
        const names = (await store.imageNames()).filter((n) => scope.owns(n));
        for (const name of names) await this.sweepRepository(store, name, cut, counts, note);
        await this.sweepBlobs(store, cut, counts, note, !dryRun);
      };
      if (dryRun) await gcStore.dryRun(sweep);
      else await sweep(gcStore);
      const uploadCutoff = started - this.deps.uploadTtlSeconds * 1000;
      if (req.orphanFiles ?? scope.id === WHOLE_REGISTRY.id) await this.sweepOrphans(cut, uploadCutoff, counts, note, dryRun);
      if (dryRun) {
        for (const u of await this.deps.meta.staleUploads(uploadCutoff)) {
          counts.uploads_purged++;
          note({ kind: 'upload', digest: u.id, size: u.offset });
        }
      } else if (this.deps.purgeUploads) counts.uploads_purged = await this.deps.purgeUploads(uploadCutoff);

      const { candidates, candidates_total, ...tallies } = counts;
      const report: GcReport = {
        repository_id: scope.id,
        dry_run: dryRun,
        grace_seconds: policy.graceSeconds,
        delete_untagged_after_seconds: policy.deleteUntagged ? policy.untaggedAfterSeconds : null,
        ...tallies,
        ...(dryRun ? { candidates, candidates_total } : {}),
        duration_ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e5) / 10,
      };
      const finishedAt = this.now();
      await gcStore.recordGcRun({ scope: scope.id, finishedAt, dryRun, report: { ...report, candidates: undefined } });
      if (metrics) {
        metrics.runs.inc({ repository: scope.id, dry_run: String(dryRun), result: 'ok' });
        metrics.duration.observe(report.duration_ms / 1000);
        if (!dryRun) {
          metrics.deleted.inc({ kind: 'manifest' }, counts.manifests_deleted);
          metrics.deleted.inc({ kind: 'link' }, counts.links_deleted);
          metrics.deleted.inc({ kind: 'blob' }, counts.blobs_deleted);
          metrics.deleted.inc({ kind: 'orphan_file' }, counts.orphan_files_deleted);
          metrics.deleted.inc({ kind: 'upload' }, counts.uploads_purged);
          metrics.bytesFreed.inc(counts.bytes_freed);
          metrics.lastRun.set(finishedAt / 1000);
        }
      }
      const { candidates: _omit, ...logged } = report;
      this.deps.log?.info({ audit: 'gc', principal: req.principal ?? null, policy, ...logged }, 'gc run');
      return report;
    } catch (err) {
      metrics?.runs.inc({ repository: scope.id, dry_run: String(dryRun), result: 'error' });
      this.deps.log?.error({ audit: 'gc', principal: req.principal ?? null, repository_id: scope.id, err }, 'gc run failed');
      throw err;
    }
  }

  /** Manifests, then blob links, of one image name. */
  private async sweepRepository(store: GcStore, name: string, cut: Cutoffs, counts: Counts, note: (c: GcCandidate) => void): Promise<void> {
    const marked = mark(await store.manifestsOf(name), await store.refsOf(name), cut);
    counts.skipped_too_new.manifests += marked.tooNewManifests.length;
    // From here on the mark is stale: pushes are served meanwhile, and every deletion re-checks.
    await yieldToEventLoop();

    // Manifests: delete each unmarked one whose re-check still passes. Parents come first; a second
    // pass catches one whose parent or subject went later in the same pass.
    let pending = marked.garbageManifests;
    let steps = 0;
    while (pending.length > 0) {
      const retry: string[] = [];
      for (const digest of pending) {
        const outcome = await store.collectManifest(name, digest, (s) => mayDeleteManifest(s, cut));
        if (outcome === 'deleted') {
          counts.manifests_deleted++;
          note({ kind: 'manifest', repository: name, digest });
        }
        if (outcome === 'kept') retry.push(digest);
        if (++steps % BATCH === 0) await yieldToEventLoop();
      }
      if (retry.length === pending.length) break; // no progress: the rest is kept
      pending = retry;
    }

    // Links: unreferenced in this repository and older than the grace period, re-checked in the deleting
    // transaction. A manifest PUT checks (and locks) the links it references in its own transaction, so it
    // either commits first (the link is then referenced and stays) or fails with MANIFEST_BLOB_UNKNOWN.
    for (const link of await store.linksOf(name)) {
      if (marked.keptBlobs.has(link.digest)) continue;
      let verdict: ReturnType<typeof linkVerdict> = null;
      const outcome = await store.collectLink(name, link.digest, (s) => (verdict = linkVerdict(s, cut)) === null);
      if (outcome === 'deleted') {
        counts.links_deleted++;
        note({ kind: 'link', repository: name, digest: link.digest, size: link.size });
      } else if (verdict === 'too-new') counts.skipped_too_new.links++;
      if (++steps % BATCH === 0) await yieldToEventLoop();
    }
  }

  /**
   * Blobs with no link and no reference in ANY repository, older than the grace period. collectBlob holds
   * the digest's lock across the record delete and the storage delete; an upload commit of the same
   * digest takes that lock too, so it happens entirely before or entirely after.
   */
  private async sweepBlobs(store: GcStore, cut: Cutoffs, counts: Counts, note: (c: GcCandidate) => void, deleteBytes: boolean): Promise<void> {
    const { blobs } = this.deps;
    let after: string | null = null;
    for (;;) {
      const page = await store.unusedBlobs(after, PAGE);
      if (page.length === 0) return;
      for (const candidate of page) {
        let verdict: ReturnType<typeof blobVerdict> = null;
        const size = await store.collectBlob(
          candidate.digest,
          (s) => (verdict = blobVerdict(s, cut)) === null,
          deleteBytes ? () => blobs.delete(candidate.digest) : async () => undefined,
        );
        if (size !== null) {
          counts.blobs_deleted++;
          counts.bytes_freed += size;
          note({ kind: 'blob', digest: candidate.digest, size });
        } else if (verdict === 'too-new') {
          counts.skipped_too_new.blobs++;
          counts.skipped_too_new.bytes += candidate.size;
        }
      }
      after = page[page.length - 1]!.digest;
      await yieldToEventLoop();
    }
  }

  /** Stored bytes with no record (a crash between publish and record, or between record delete and delete). */
  private async sweepOrphans(cut: Cutoffs, uploadCutoff: number, counts: Counts, note: (c: GcCandidate) => void, dryRun: boolean): Promise<void> {
    const { meta, blobs, gcStore } = this.deps;
    let seen = 0;
    for await (const file of blobs.list()) {
      if (++seen % 256 === 0) await yieldToEventLoop();
      if (file.modifiedMs > cut.grace) continue;
      const gone = dryRun
        ? (await meta.getBlob(file.digest)) === null
        : await gcStore.collectOrphan(file.digest, () => blobs.delete(file.digest));
      if (!gone) continue;
      counts.orphan_files_deleted++;
      counts.bytes_freed += file.size;
      note({ kind: 'orphan_file', digest: file.digest, size: file.size });
    }
    // Upload bytes whose session record is gone (a crash between creating them and recording the session,
    // or during a purge). Judged by the upload TTL, not the grace period: a session stores its bytes a
    // moment before its record.
    for await (const file of blobs.listUploads()) {
      if (++seen % 256 === 0) await yieldToEventLoop();
      if (file.modifiedMs > uploadCutoff || (await meta.getUpload(file.id)) !== null) continue;
      if (!dryRun) await blobs.deleteUpload(file.id);
      counts.orphan_files_deleted++;
      note({ kind: 'orphan_file', digest: file.id });
    }
  }
}

function cutoffs(policy: GcPolicy, now: number): Cutoffs {
  return {
    grace: now - policy.graceSeconds * 1000,
    untagged: policy.deleteUntagged ? now - policy.untaggedAfterSeconds * 1000 : null,
  };
}
