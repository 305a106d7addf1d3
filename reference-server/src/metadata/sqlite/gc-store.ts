/**
 * GcStore on the embedded SQLite database (same tables as registry-store.ts). Each re-check-and-delete is
 * one synchronous transaction; collectBlob/collectOrphan hold the per-digest KeyedMutex that
 * commitBlob takes, across the storage delete. A dry run works on an in-memory copy of the database
 * (db.serialize()), so the real tables are never touched.
 */
import Database from 'better-sqlite3';
import { KeyedMutex } from '../keyed-mutex.js';
import type { BlobRecord } from '../store.js';
import type {
  CollectOutcome,
  GcBlobState,
  GcLinkRow,
  GcLinkState,
  GcManifestRow,
  GcManifestState,
  GcRefRow,
  GcRunRecord,
  GcStore,
  UsageCounts,
} from '../gc-store.js';
import { toBlob, toBlobState, toGcLink, toGcManifest, toLinkState, toManifestState, type BlobRow, type BlobStateRow, type GcLinkSqlRow, type GcManifestSqlRow, type LinkStateRow, type ManifestStateRow } from '../rows.js';
import type { DB } from './database.js';

/** Image names passed to SQL as one JSON array parameter (json_each), so a scope of any size is one query. */
const IN_NAMES = '(SELECT value FROM json_each(?))';

export class SqliteGcStore implements GcStore {
  private readonly q;
  private runs: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: DB,
    private readonly locks: KeyedMutex,
    private readonly now: () => number = Date.now,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      imageNames: p('SELECT repository FROM manifests UNION SELECT repository FROM repo_blobs UNION SELECT repository FROM tags ORDER BY 1').pluck(),
      manifestsOf: p(
        `SELECT m.digest, m.subject, m.created_at, m.size,
                EXISTS(SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest) AS tagged
           FROM manifests m WHERE m.repository = ?`,
      ),
      refsOf: p('SELECT digest AS parent, child, kind FROM manifest_refs WHERE repository = ?'),
      linksOf: p(
        `SELECT l.digest, b.size, l.linked_at, l.last_referenced_at
           FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository = ?`,
      ),
      manifestState: p(
        `SELECT m.subject, m.created_at,
                EXISTS(SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest) AS tagged,
                EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repository = m.repository AND r.child = m.digest AND r.kind = 'manifest') AS is_child,
                (m.subject IS NOT NULL AND EXISTS(SELECT 1 FROM manifests s WHERE s.repository = m.repository AND s.digest = m.subject)) AS subject_present
           FROM manifests m WHERE m.repository = ? AND m.digest = ?`,
      ),
      deleteManifest: p('DELETE FROM manifests WHERE repository = ? AND digest = ?'),
      deleteRefs: p('DELETE FROM manifest_refs WHERE repository = ? AND digest = ?'),
      deleteTagsOf: p('DELETE FROM tags WHERE repository = ? AND digest = ?'),
      linkState: p(
        `SELECT l.linked_at, l.last_referenced_at,
                EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repository = l.repository AND r.child = l.digest AND r.kind = 'blob') AS referenced
           FROM repo_blobs l WHERE l.repository = ? AND l.digest = ?`,
      ),
      deleteLink: p('DELETE FROM repo_blobs WHERE repository = ? AND digest = ?'),
      forgetRepo: p(
        `DELETE FROM repositories WHERE name = @name
           AND NOT EXISTS(SELECT 1 FROM manifests WHERE repository = @name) AND NOT EXISTS(SELECT 1 FROM repo_blobs WHERE repository = @name)`,
      ),
      unusedBlobs: p(
        `SELECT b.digest, b.size, b.created_at FROM blobs b
          WHERE b.digest > ?
            AND NOT EXISTS(SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)
            AND NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child = b.digest AND r.kind = 'blob')
          ORDER BY b.digest LIMIT ?`,
      ),
      blobState: p(
        `SELECT b.size, b.created_at,
                (SELECT COUNT(*) FROM repo_blobs l WHERE l.digest = b.digest) AS links,
                (SELECT COUNT(*) FROM manifest_refs r WHERE r.child = b.digest AND r.kind = 'blob') AS refs
           FROM blobs b WHERE b.digest = ?`,
      ),
      hasBlob: p('SELECT 1 FROM blobs WHERE digest = ?'),
      deleteBlob: p('DELETE FROM blobs WHERE digest = ?'),
      insertRun: p('INSERT INTO gc_runs (scope, finished_at, dry_run, report) VALUES (?, ?, ?, ?)'),
      lastRun: p(`SELECT MAX(finished_at) AS t FROM gc_runs WHERE dry_run = 0 AND scope IN ${IN_NAMES}`),
      usageImages: p(
        `SELECT COUNT(*) AS n FROM json_each(?) AS j
          WHERE EXISTS(SELECT 1 FROM manifests m WHERE m.repository = j.value) OR EXISTS(SELECT 1 FROM repo_blobs l WHERE l.repository = j.value)`,
      ),
      usageTags: p(`SELECT COUNT(*) AS n, MAX(updated_at) AS t FROM tags WHERE repository IN ${IN_NAMES}`),
      usageManifests: p(`SELECT COUNT(*) AS n, MAX(created_at) AS t FROM manifests WHERE repository IN ${IN_NAMES}`),
      usageManifestBytes: p(
        `SELECT COALESCE(SUM(size), 0) AS bytes FROM (SELECT MAX(size) AS size FROM manifests WHERE repository IN ${IN_NAMES} GROUP BY digest)`,
      ),
      usageBlobs: p(
        `SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM blobs
          WHERE digest IN (SELECT digest FROM repo_blobs WHERE repository IN ${IN_NAMES})`,
      ),
    };
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  async imageNames(): Promise<string[]> {
    return this.q.imageNames.all() as string[];
  }

  async manifestsOf(repository: string): Promise<GcManifestRow[]> {
    return (this.q.manifestsOf.all(repository) as GcManifestSqlRow[]).map(toGcManifest);
  }

  async refsOf(repository: string): Promise<GcRefRow[]> {
    return this.q.refsOf.all(repository) as GcRefRow[];
  }

  async linksOf(repository: string): Promise<GcLinkRow[]> {
    return (this.q.linksOf.all(repository) as GcLinkSqlRow[]).map(toGcLink);
  }

  async collectManifest(repository: string, digest: string, may: (s: GcManifestState) => boolean): Promise<CollectOutcome> {
    return this.tx((): CollectOutcome => {
      const r = this.q.manifestState.get(repository, digest) as ManifestStateRow | undefined;
      if (!r) return 'gone';
      if (!may(toManifestState(r))) return 'kept';
      this.q.deleteManifest.run(repository, digest);
      this.q.deleteRefs.run(repository, digest);
      this.q.deleteTagsOf.run(repository, digest);
      this.q.forgetRepo.run({ name: repository });
      return 'deleted';
    });
  }

  async collectLink(repository: string, digest: string, may: (s: GcLinkState) => boolean): Promise<CollectOutcome> {
    return this.tx((): CollectOutcome => {
      const r = this.q.linkState.get(repository, digest) as LinkStateRow | undefined;
      if (!r) return 'gone';
      if (!may(toLinkState(r))) return 'kept';
      this.q.deleteLink.run(repository, digest);
      this.q.forgetRepo.run({ name: repository });
      return 'deleted';
    });
  }

  async unusedBlobs(after: string | null, limit: number): Promise<BlobRecord[]> {
    return (this.q.unusedBlobs.all(after ?? '', limit) as BlobRow[]).map(toBlob);
  }

  async collectBlob(digest: string, may: (s: GcBlobState) => boolean, deleteBytes: () => Promise<void>): Promise<number | null> {
    return this.locks.run(digest, async () => {
      const size = this.tx(() => {
        const r = this.q.blobState.get(digest) as BlobStateRow | undefined;
        if (!r || !may(toBlobState(r))) return null;
        this.q.deleteBlob.run(digest);
        return r.size;
      });
      // The record delete is committed before the bytes go: a crash in between leaves bytes without a
      // record (an orphan, collected later), never a record without its bytes.
      if (size !== null) await deleteBytes();
      return size;
    });
  }

  async collectOrphan(digest: string, deleteBytes: () => Promise<void>): Promise<boolean> {
    return this.locks.run(digest, async () => {
      if (this.q.hasBlob.get(digest)) return false;
      await deleteBytes();
      return true;
    });
  }

  async recordGcRun(run: GcRunRecord): Promise<void> {
    this.q.insertRun.run(run.scope, run.finishedAt, run.dryRun ? 1 : 0, JSON.stringify(run.report));
  }

  async lastGcRun(scopes: readonly string[]): Promise<number | null> {
    return (this.q.lastRun.get(JSON.stringify(scopes)) as { t: number | null }).t;
  }

  async usage(names: readonly string[]): Promise<UsageCounts> {
    const json = JSON.stringify(names);
    return this.tx(() => {
      const images = (this.q.usageImages.get(json) as { n: number }).n;
      const tags = this.q.usageTags.get(json) as { n: number; t: number | null };
      const manifests = this.q.usageManifests.get(json) as { n: number; t: number | null };
      const manifestBytes = (this.q.usageManifestBytes.get(json) as { bytes: number }).bytes;
      const blobs = this.q.usageBlobs.get(json) as { n: number; bytes: number };
      const times = [tags.t, manifests.t].filter((t): t is number => t !== null);
      return {
        images,
        tags: tags.n,
        manifests: manifests.n,
        blobs: blobs.n,
        bytes: blobs.bytes + manifestBytes,
        lastPush: times.length > 0 ? Math.max(...times) : null,
      };
    });
  }

  async dryRun<T>(fn: (view: GcStore) => Promise<T>): Promise<T> {
    const image = this.db.serialize();
    // A WAL database's header says so (bytes 18-19 = 2); an in-memory copy must be a rollback-journal one.
    image[18] = 1;
    image[19] = 1;
    const copy = new Database(image);
    try {
      return await fn(new SqliteGcStore(copy, new KeyedMutex(), this.now));
    } finally {
      copy.close();
    }
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.runs.then(fn);
    this.runs = next.catch(() => undefined);
    return next;
  }
}
