/**
 * GcStore on PostgreSQL (same tables as registry-store.ts), after GitLab's online GC: every deletion is
 * one transaction that first locks the row it may delete (FOR UPDATE SKIP LOCKED: a row a push holds is
 * in use, so GC keeps it this round instead of waiting), then re-reads the state the predicate decides on
 * in the statements after the lock, which see every commit made before the lock was granted.
 * collectBlob/collectOrphan also hold the digest's advisory lock (the one commitBlob takes) across the
 * storage delete, which runs after the record's deletion is committed. gc/README.md has the argument.
 *
 * A dry run copies the GC tables into temporary tables of one transaction (they shadow the real ones for
 * that session) and rolls back: the real tables are never written or locked.
 */
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
import { LOCK, TxViewDb, type Db, type PoolDb } from './database.js';

const FORGET_IF_EMPTY = `DELETE FROM repositories WHERE name = $1
  AND NOT EXISTS(SELECT 1 FROM manifests WHERE repository = $1) AND NOT EXISTS(SELECT 1 FROM repo_blobs WHERE repository = $1)`;

/** Tables a GC run reads or writes (a dry run's private copies). manifests without their bodies. */
const VIEW_TABLES: readonly [string, string][] = [
  ['blobs', '*'],
  ['repo_blobs', '*'],
  ['manifests', `repository, digest, media_type, size, ''::bytea, subject, artifact_type, annotations, created_at, attestation`],
  ['manifest_refs', '*'],
  ['tags', '*'],
  ['repositories', '*'],
  ['gc_runs', '*'],
];

export class PostgresGcStore implements GcStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    /** The pool behind `db` (absent in a dry-run view, which has no pool of its own). */
    private readonly pool?: PoolDb,
  ) {}

  async imageNames(): Promise<string[]> {
    const r = await this.db.query<{ n: string }>('SELECT repository AS n FROM manifests UNION SELECT repository FROM repo_blobs UNION SELECT repository FROM tags ORDER BY 1');
    return r.rows.map((x) => x.n);
  }

  async manifestsOf(repository: string): Promise<GcManifestRow[]> {
    const r = await this.db.query<GcManifestSqlRow>(
      `SELECT m.digest, m.subject, m.created_at, m.size,
              EXISTS(SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest) AS tagged
         FROM manifests m WHERE m.repository = $1`,
      [repository],
    );
    return r.rows.map(toGcManifest);
  }

  async refsOf(repository: string): Promise<GcRefRow[]> {
    return (await this.db.query<GcRefRow>('SELECT digest AS parent, child, kind FROM manifest_refs WHERE repository = $1', [repository])).rows;
  }

  async linksOf(repository: string): Promise<GcLinkRow[]> {
    const r = await this.db.query<GcLinkSqlRow>(
      'SELECT l.digest, b.size, l.linked_at, l.last_referenced_at FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository = $1',
      [repository],
    );
    return r.rows.map(toGcLink);
  }

  async collectManifest(repository: string, digest: string, may: (s: GcManifestState) => boolean): Promise<CollectOutcome> {
    return this.db.tx(async (c): Promise<CollectOutcome> => {
      const key = [repository, digest];
      if ((await c.query('SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2 FOR UPDATE SKIP LOCKED', key)).rowCount === 0) {
        return (await c.query('SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2', key)).rowCount === 0 ? 'gone' : 'kept';
      }
      const r = (
        await c.query<ManifestStateRow>(
          `SELECT m.subject, m.created_at,
                  EXISTS(SELECT 1 FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest) AS tagged,
                  EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repository = m.repository AND r.child = m.digest AND r.kind = 'manifest') AS is_child,
                  (m.subject IS NOT NULL AND EXISTS(SELECT 1 FROM manifests s WHERE s.repository = m.repository AND s.digest = m.subject)) AS subject_present
             FROM manifests m WHERE m.repository = $1 AND m.digest = $2`,
          key,
        )
      ).rows[0]!;
      if (!may(toManifestState(r))) return 'kept';
      await c.query('DELETE FROM manifests WHERE repository = $1 AND digest = $2', key);
      await c.query('DELETE FROM manifest_refs WHERE repository = $1 AND digest = $2', key);
      await c.query('DELETE FROM tags WHERE repository = $1 AND digest = $2', key);
      await c.query(FORGET_IF_EMPTY, [repository]);
      return 'deleted';
    });
  }

  async collectLink(repository: string, digest: string, may: (s: GcLinkState) => boolean): Promise<CollectOutcome> {
    return this.db.tx(async (c): Promise<CollectOutcome> => {
      const key = [repository, digest];
      if ((await c.query('SELECT 1 FROM repo_blobs WHERE repository = $1 AND digest = $2 FOR UPDATE SKIP LOCKED', key)).rowCount === 0) {
        return (await c.query('SELECT 1 FROM repo_blobs WHERE repository = $1 AND digest = $2', key)).rowCount === 0 ? 'gone' : 'kept';
      }
      const r = (
        await c.query<LinkStateRow>(
          `SELECT l.linked_at, l.last_referenced_at,
                  EXISTS(SELECT 1 FROM manifest_refs r WHERE r.repository = l.repository AND r.child = l.digest AND r.kind = 'blob') AS referenced
             FROM repo_blobs l WHERE l.repository = $1 AND l.digest = $2`,
          key,
        )
      ).rows[0]!;
      if (!may(toLinkState(r))) return 'kept';
      await c.query('DELETE FROM repo_blobs WHERE repository = $1 AND digest = $2', key);
      await c.query(FORGET_IF_EMPTY, [repository]);
      return 'deleted';
    });
  }

  async unusedBlobs(after: string | null, limit: number): Promise<BlobRecord[]> {
    const r = await this.db.query<BlobRow>(
      `SELECT b.digest, b.size, b.created_at FROM blobs b
        WHERE b.digest > $1
          AND NOT EXISTS(SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)
          AND NOT EXISTS(SELECT 1 FROM manifest_refs r WHERE r.child = b.digest AND r.kind = 'blob')
        ORDER BY b.digest LIMIT $2`,
      [after ?? '', limit],
    );
    return r.rows.map(toBlob);
  }

  async collectBlob(digest: string, may: (s: GcBlobState) => boolean, deleteBytes: () => Promise<void>): Promise<number | null> {
    return this.db.withLock(LOCK.blob, digest, async (db) => {
      const size = await db.tx(async (c) => {
        // Locked by a push that is linking or referencing it: in use, kept this round.
        if ((await c.query('SELECT 1 FROM blobs WHERE digest = $1 FOR UPDATE SKIP LOCKED', [digest])).rowCount === 0) return null;
        const r = (
          await c.query<BlobStateRow>(
            `SELECT b.size, b.created_at,
                    (SELECT COUNT(*) FROM repo_blobs l WHERE l.digest = b.digest) AS links,
                    (SELECT COUNT(*) FROM manifest_refs r WHERE r.child = b.digest AND r.kind = 'blob') AS refs
               FROM blobs b WHERE b.digest = $1`,
            [digest],
          )
        ).rows[0]!;
        if (!may(toBlobState(r))) return null;
        await c.query('DELETE FROM blobs WHERE digest = $1', [digest]);
        return r.size;
      });
      // The record's deletion is committed before the bytes go: a crash in between leaves bytes without a
      // record (an orphan, collected later), never a record without its bytes.
      if (size !== null) await deleteBytes();
      return size;
    });
  }

  async collectOrphan(digest: string, deleteBytes: () => Promise<void>): Promise<boolean> {
    return this.db.withLock(LOCK.blob, digest, async (db) => {
      if (((await db.query('SELECT 1 FROM blobs WHERE digest = $1', [digest])).rowCount ?? 0) > 0) return false;
      await deleteBytes();
      return true;
    });
  }

  async recordGcRun(run: GcRunRecord): Promise<void> {
    await this.db.query('INSERT INTO gc_runs (scope, finished_at, dry_run, report) VALUES ($1, $2, $3, $4)', [
      run.scope,
      run.finishedAt,
      run.dryRun,
      JSON.stringify(run.report),
    ]);
  }

  async lastGcRun(scopes: readonly string[]): Promise<number | null> {
    const r = await this.db.query<{ t: number | null }>('SELECT MAX(finished_at) AS t FROM gc_runs WHERE NOT dry_run AND scope = ANY($1::text[])', [[...scopes]]);
    return r.rows[0]?.t ?? null;
  }

  async usage(names: readonly string[]): Promise<UsageCounts> {
    const r = await this.db.query<{ images: number; tags: number; tags_t: number | null; manifests: number; manifests_t: number | null; manifest_bytes: number; blobs: number; blob_bytes: number }>(
      `WITH n AS (SELECT unnest($1::text[]) AS name)
       SELECT (SELECT COUNT(*) FROM n WHERE EXISTS(SELECT 1 FROM manifests m WHERE m.repository = n.name)
                                        OR EXISTS(SELECT 1 FROM repo_blobs l WHERE l.repository = n.name)) AS images,
              (SELECT COUNT(*) FROM tags WHERE repository = ANY($1::text[])) AS tags,
              (SELECT MAX(updated_at) FROM tags WHERE repository = ANY($1::text[])) AS tags_t,
              (SELECT COUNT(*) FROM manifests WHERE repository = ANY($1::text[])) AS manifests,
              (SELECT MAX(created_at) FROM manifests WHERE repository = ANY($1::text[])) AS manifests_t,
              (SELECT COALESCE(SUM(size), 0) FROM (SELECT MAX(size) AS size FROM manifests WHERE repository = ANY($1::text[]) GROUP BY digest) s) AS manifest_bytes,
              (SELECT COUNT(*) FROM blobs WHERE digest IN (SELECT digest FROM repo_blobs WHERE repository = ANY($1::text[]))) AS blobs,
              (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN (SELECT digest FROM repo_blobs WHERE repository = ANY($1::text[]))) AS blob_bytes`,
      [[...names]],
    );
    const u = r.rows[0]!;
    const times = [u.tags_t, u.manifests_t].filter((t): t is number => t !== null);
    return {
      images: u.images,
      tags: u.tags,
      manifests: u.manifests,
      blobs: u.blobs,
      bytes: u.blob_bytes + u.manifest_bytes,
      lastPush: times.length > 0 ? Math.max(...times) : null,
    };
  }

  async dryRun<T>(fn: (view: GcStore) => Promise<T>): Promise<T> {
    if (!this.pool) return fn(this); // already a view
    return this.pool.withClient(async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      try {
        const schema = (await client.query<{ s: string }>('SELECT quote_ident(current_schema()) AS s')).rows[0]!.s;
        for (const [table, columns] of VIEW_TABLES) {
          // pg_temp comes first in the search path: unqualified names now mean the copies.
          await client.query(`CREATE TEMP TABLE ${table} (LIKE ${schema}.${table} INCLUDING DEFAULTS INCLUDING INDEXES) ON COMMIT DROP`);
          await client.query(`INSERT INTO pg_temp.${table} SELECT ${columns} FROM ${schema}.${table}`);
        }
        return await fn(new PostgresGcStore(new TxViewDb(client), this.now));
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // A session lock on a client of its own: held for the whole run, released if this process dies.
    return this.db.withLock(LOCK.gc, 'run', () => fn());
  }
}
