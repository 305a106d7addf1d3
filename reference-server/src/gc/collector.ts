/**
 * The garbage collector: mark & sweep over the metadata store, then orphan files and expired uploads.
 * Read gc/README.md for the safety rule; the short version is in each step's comment below.
 *
 * Each phase is a synchronous generator that yields between deletions. A real run drives it with a pause
 * to the event loop now and then (so pushes keep being served and the mark goes stale — which is why
 * every deletion re-checks its condition in its own transaction). A dry run drives the same generators
 * inside one transaction that is rolled back: exactly what a real run would delete, nothing changed.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BlobStore } from '../storage/blob-store.js';
import type { GcMetadata, MetadataStore } from '../metadata/store.js';
import { mark, mayDeleteLink, mayDeleteManifest, type Cutoffs } from './mark.js';
import { resolvePolicy, type GcConfig, type GcPolicy, type GcRunOptions } from './policy.js';
import { WHOLE_REGISTRY, type RepositoryScope } from './scope.js';
import type { GcMetrics } from './metrics.js';

export interface GcReport {
  repository_id: string;
  dry_run: boolean;
  manifests_deleted: number;
  /** Per-repository blob links removed (a blob is deleted once it has none left anywhere). */
  links_deleted: number;
  blobs_deleted: number;
  /** Blob files without a metadata record (left by a crash) removed. */
  orphan_files_deleted: number;
  bytes_freed: number;
  uploads_purged: number;
  duration_ms: number;
}

export interface GcDeps {
  readonly gcMeta: GcMetadata;
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
   * Walk the blob files for orphans (files without a record, left by a crash). They belong to no
   * repository, and the walk is the one part that reads the disk: default true for whole-registry
   * runs (schedule, CLI), false for runs scoped to one repository.
   */
  readonly orphanFiles?: boolean;
}

const ROLLBACK = Symbol('dry run rollback');
/** Deletions between two pauses to the event loop. */
const BATCH = 32;
/** Yielded right after the mark: a real run always pauses there, so the sweep really runs on a stale mark. */
const MARKED = 'marked';

type Counts = Omit<GcReport, 'repository_id' | 'dry_run' | 'duration_ms'>;

export class GarbageCollector {
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: GcDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Runs GC; runs are serialized (a second request waits for the first). */
  run(req: RunRequest = {}): Promise<GcReport> {
    const next = this.queue.then(() => this.runNow(req));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when no run is in progress or queued (for shutdown). */
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
    const counts: Counts = { manifests_deleted: 0, links_deleted: 0, blobs_deleted: 0, orphan_files_deleted: 0, bytes_freed: 0, uploads_purged: 0 };
    const { gcMeta, metrics } = this.deps;
    try {
      const names = gcMeta.imageNames().filter((n) => scope.owns(n));
      if (dryRun) {
        try {
          gcMeta.transaction(() => {
            for (const name of names) for (const _ of this.sweepRepository(name, cut, counts));
            for (const _ of this.sweepBlobs(cut, counts, false));
            throw ROLLBACK;
          });
        } catch (e) {
          if (e !== ROLLBACK) throw e;
        }
      } else {
        for (const name of names) await drive(this.sweepRepository(name, cut, counts));
        await drive(this.sweepBlobs(cut, counts, true));
      }
      const uploadCutoff = started - this.deps.uploadTtlSeconds * 1000;
      if (req.orphanFiles ?? scope.id === WHOLE_REGISTRY.id) await this.sweepOrphanFiles(cut, uploadCutoff, counts, dryRun);
      if (dryRun) counts.uploads_purged = this.deps.meta.staleUploads(uploadCutoff).length;
      else if (this.deps.purgeUploads) counts.uploads_purged = await this.deps.purgeUploads(uploadCutoff);

      const report: GcReport = {
        repository_id: scope.id,
        dry_run: dryRun,
        ...counts,
        duration_ms: Math.round(Number(process.hrtime.bigint() - t0) / 1e5) / 10,
      };
      const finishedAt = this.now();
      gcMeta.recordGcRun({ scope: scope.id, finishedAt, dryRun, report });
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
      this.deps.log?.info({ audit: 'gc', principal: req.principal ?? null, policy, ...report }, 'gc run');
      return report;
    } catch (err) {
      metrics?.runs.inc({ repository: scope.id, dry_run: String(dryRun), result: 'error' });
      this.deps.log?.error({ audit: 'gc', principal: req.principal ?? null, repository_id: scope.id, err }, 'gc run failed');
      throw err;
    }
  }

  /** Manifests, then blob links, of one image name. */
  private *sweepRepository(name: string, cut: Cutoffs, counts: Counts): Generator<unknown> {
    const { gcMeta } = this.deps;
    const marked = mark(gcMeta.manifestsOf(name), gcMeta.refsOf(name), cut);
    yield MARKED;

    // Manifests: delete each unmarked one whose re-check still passes. Parents come first; a second
    // pass catches one whose parent or subject went later in the same pass.
    let pending = marked.garbageManifests;
    while (pending.length > 0) {
      const retry: string[] = [];
      for (const digest of pending) {
        const outcome = gcMeta.transaction(() => {
          const s = gcMeta.manifestState(name, digest);
          if (!s) return 'gone';
          if (!mayDeleteManifest(s, cut)) return 'kept';
          gcMeta.removeManifest(name, digest);
          return 'deleted';
        });
        if (outcome === 'deleted') counts.manifests_deleted++;
        if (outcome === 'kept') retry.push(digest);
        yield;
      }
      if (retry.length === pending.length) break; // no progress: the rest is kept
      pending = retry;
    }

    // Links: unreferenced in this repository and older than the grace period, re-checked in the same
    // transaction as the delete. A manifest PUT checks its blobs are linked in its own transaction, so
    // it either commits first (the link is then referenced and stays) or fails with MANIFEST_BLOB_UNKNOWN.
    for (const link of gcMeta.linksOf(name)) {
      if (marked.keptBlobs.has(link.digest)) continue;
      const removed = gcMeta.transaction(() => {
        const s = gcMeta.linkState(name, link.digest);
        return s !== null && mayDeleteLink(s, cut) && gcMeta.removeLink(name, link.digest);
      });
      if (removed) counts.links_deleted++;
      yield;
    }
  }

  /**
   * Blobs with no link and no reference in ANY repository, older than the grace period. The re-check,
   * the record delete and the file delete form one synchronous block: an upload commit (file rename +
   * record insert, also one synchronous block) happens entirely before or entirely after it.
   */
  private *sweepBlobs(cut: Cutoffs, counts: Counts, deleteFiles: boolean): Generator<unknown> {
    const { gcMeta, blobs } = this.deps;
    for (const candidate of gcMeta.unusedBlobs()) {
      const size = gcMeta.transaction(() => {
        const s = gcMeta.blobState(candidate.digest);
        if (!s || s.links > 0 || s.references > 0 || s.createdAt > cut.grace) return null;
        gcMeta.removeBlobRecord(candidate.digest);
        return s.size;
      });
      // The record delete is committed before the file goes: a crash in between leaves a file without a
      // record (removed by the orphan sweep), never a record without its file.
      if (size !== null) {
        if (deleteFiles) blobs.deleteSync(candidate.digest);
        counts.blobs_deleted++;
        counts.bytes_freed += size;
      }
      yield;
    }
  }

  /** Blob files with no record (crash between rename and insert, or between record delete and unlink). */
  private async sweepOrphanFiles(cut: Cutoffs, uploadCutoff: number, counts: Counts, dryRun: boolean): Promise<void> {
    const { meta, blobs } = this.deps;
    let seen = 0;
    for await (const file of blobs.list()) {
      if (++seen % 256 === 0) await yieldToEventLoop();
      if (file.modifiedMs > cut.grace) continue;
      // Check and unlink with no await in between: an upload committing this digest cannot slip in.
      if (meta.getBlob(file.digest) !== null) continue;
      if (!dryRun) blobs.deleteSync(file.digest);
      counts.orphan_files_deleted++;
      counts.bytes_freed += file.size;
    }
    // Upload scratch files whose session record is gone (a crash between creating the file and recording
    // the session, or during a purge). Judged by the upload TTL, not the grace period: a session creates
    // its file a moment before its record.
    for await (const file of blobs.listUploads()) {
      if (++seen % 256 === 0) await yieldToEventLoop();
      if (file.modifiedMs > uploadCutoff || meta.getUpload(file.id) !== null) continue;
      if (!dryRun) await blobs.deleteUpload(file.id);
      counts.orphan_files_deleted++;
      counts.bytes_freed += file.size;
    }
  }
}

function cutoffs(policy: GcPolicy, now: number): Cutoffs {
  return {
    grace: now - policy.graceSeconds * 1000,
    untagged: policy.deleteUntagged ? now - policy.untaggedAfterSeconds * 1000 : null,
  };
}

/** Runs a sweep generator, pausing to the event loop after the mark and every BATCH steps. */
async function drive(steps: Generator<unknown>): Promise<void> {
  let n = 0;
  for (const step of steps) {
    if (step === MARKED || ++n % BATCH === 0) await yieldToEventLoop();
  }
}
