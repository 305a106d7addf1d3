/**
 * MetadataStore on SQLite (better-sqlite3: synchronous, one connection, WAL). Every method is one
 * transaction. WAL + synchronous=NORMAL: a killed process loses nothing it acknowledged; only a power
 * loss can drop the last few commits (never corrupt them). Set `durability: 'full'` to fsync each commit.
 */
import Database from 'better-sqlite3';
import { isAttestationManifest } from '../oci/manifest.js';
import type {
  BlobRecord,
  ManifestRecord,
  MetadataStore,
  NewManifest,
  Page,
  PutManifestResult,
  Referrer,
  UploadRecord,
  ManifestReference,
} from './store.js';

type DB = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  digest      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
-- A blob is visible in a repository only through a link (pushed or mounted there).
CREATE TABLE IF NOT EXISTS repo_blobs (
  repository  TEXT NOT NULL,
  digest      TEXT NOT NULL,
  linked_at   INTEGER NOT NULL,
  -- Last time a manifest referencing the blob in this repository was put or deleted (GC grace period).
  last_referenced_at INTEGER,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
  repository    TEXT NOT NULL,
  digest        TEXT NOT NULL,
  media_type    TEXT NOT NULL,
  size          INTEGER NOT NULL,
  body          BLOB NOT NULL,
  subject       TEXT,
  artifact_type TEXT,
  annotations   TEXT,
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repository, subject) WHERE subject IS NOT NULL;
-- What a manifest references: its config and layers (kind 'blob') or index children (kind 'manifest').
CREATE TABLE IF NOT EXISTS manifest_refs (
  repository  TEXT NOT NULL,
  digest      TEXT NOT NULL,
  child       TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (repository, digest, kind, child)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child, kind);
CREATE TABLE IF NOT EXISTS tags (
  repository  TEXT NOT NULL,
  tag         TEXT NOT NULL,
  digest      TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (repository, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repository, digest);
-- Every repository name that ever held content, for the catalog (rows go when the repository is empty).
CREATE TABLE IF NOT EXISTS repositories (
  name        TEXT PRIMARY KEY,
  created_at  INTEGER NOT NULL,
  last_push   INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  id          TEXT PRIMARY KEY,
  repository  TEXT NOT NULL,
  offset      INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
-- One row per finished GC run (scope '*' = the whole registry), for stats' last_gc and the audit trail.
CREATE TABLE IF NOT EXISTS gc_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  scope         TEXT NOT NULL,
  finished_at   INTEGER NOT NULL,
  dry_run       INTEGER NOT NULL,
  report        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gc_runs_scope ON gc_runs(scope, finished_at);
`;

/** Columns added after a table's first release: added in place to databases created before them. */
const ADDED_COLUMNS: readonly { table: string; column: string; decl: string }[] = [
  { table: 'repo_blobs', column: 'last_referenced_at', decl: 'INTEGER' },
];

function migrate(db: DB): void {
  for (const c of ADDED_COLUMNS) {
    const cols = db.pragma(`table_info(${c.table})`) as { name: string }[];
    if (!cols.some((x) => x.name === c.column)) db.exec(`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.decl}`);
  }
}

interface ManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  body: Buffer;
  subject: string | null;
  artifact_type: string | null;
  annotations: string | null;
  created_at: number;
}

const toManifest = (r: ManifestRow): ManifestRecord => ({
  repository: r.repository,
  digest: r.digest,
  mediaType: r.media_type,
  size: r.size,
  body: r.body,
  subject: r.subject,
  artifactType: r.artifact_type,
  annotations: r.annotations ? (JSON.parse(r.annotations) as Record<string, string>) : null,
  createdAt: r.created_at,
});

const toBlob = (r: { digest: string; size: number; created_at: number }): BlobRecord => ({
  digest: r.digest,
  size: r.size,
  createdAt: r.created_at,
});

const toUpload = (r: { id: string; repository: string; offset: number; started_at: number; updated_at: number }): UploadRecord => ({
  id: r.id,
  repository: r.repository,
  offset: r.offset,
  startedAt: r.started_at,
  updatedAt: r.updated_at,
});

/** Opens (creating if needed) the registry database file and applies the schema. */
export function openDatabase(file: string, opts: { durability?: 'normal' | 'full' } = {}): DB {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  migrate(db);
  return db;
}

export class SqliteMetadataStore implements MetadataStore {
  readonly db: DB;
  private readonly now: () => number;
  private readonly q;

  constructor(db: DB, opts: { now?: () => number } = {}) {
    this.db = db;
    this.now = opts.now ?? Date.now;
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      getBlob: p('SELECT digest, size, created_at FROM blobs WHERE digest = ?'),
      insertBlob: p('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT(digest) DO NOTHING'),
      link: p(
        'INSERT INTO repo_blobs (repository, digest, linked_at) VALUES (?, ?, ?) ON CONFLICT(repository, digest) DO UPDATE SET linked_at = excluded.linked_at',
      ),
      linkedBlob: p(
        'SELECT b.digest, b.size, b.created_at FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository = ? AND l.digest = ?',
      ),
      reposWithBlob: p('SELECT repository FROM repo_blobs WHERE digest = ? ORDER BY repository'),
      unlink: p('DELETE FROM repo_blobs WHERE repository = ? AND digest = ?'),
      touchRepo: p(
        'INSERT INTO repositories (name, created_at, last_push) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_push = COALESCE(excluded.last_push, last_push)',
      ),
      getManifest: p('SELECT * FROM manifests WHERE repository = ? AND digest = ?'),
      hasManifest: p('SELECT 1 FROM manifests WHERE repository = ? AND digest = ?'),
      insertManifest: p(
        `INSERT INTO manifests (repository, digest, media_type, size, body, subject, artifact_type, annotations, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(repository, digest) DO NOTHING`,
      ),
      insertRef: p('INSERT OR IGNORE INTO manifest_refs (repository, digest, child, kind) VALUES (?, ?, ?, ?)'),
      deleteRefs: p('DELETE FROM manifest_refs WHERE repository = ? AND digest = ?'),
      touchLinkRef: p('UPDATE repo_blobs SET last_referenced_at = ? WHERE repository = ? AND digest = ?'),
      touchLinksOfManifest: p(
        `UPDATE repo_blobs SET last_referenced_at = ? WHERE repository = ? AND digest IN
           (SELECT child FROM manifest_refs WHERE repository = ? AND digest = ? AND kind = 'blob')`,
      ),
      deleteManifest: p('DELETE FROM manifests WHERE repository = ? AND digest = ?'),
      deleteTagsOf: p('DELETE FROM tags WHERE repository = ? AND digest = ?'),
      resolveTag: p('SELECT digest FROM tags WHERE repository = ? AND tag = ?'),
      blobReferenced: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND child = ? AND kind = 'blob' LIMIT 1"),
      manifestReferenced: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND child = ? AND kind = 'manifest' LIMIT 1"),
      isChildOf: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND digest = ? AND child = ? AND kind = 'manifest'"),
      upsertTag: p(
        'INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at',
      ),
      deleteTag: p('DELETE FROM tags WHERE repository = ? AND tag = ?'),
      // pluck(): listings return bare strings, no per-row objects (3x faster on 5 000 tags).
      listTags: p('SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?').pluck(),
      tagsOf: p('SELECT tag FROM tags WHERE repository = ? AND digest = ? ORDER BY tag').pluck(),
      repoHasContent: p(
        `SELECT EXISTS(SELECT 1 FROM manifests WHERE repository = @name) OR EXISTS(SELECT 1 FROM repo_blobs WHERE repository = @name) AS present`,
      ),
      deleteRepo: p('DELETE FROM repositories WHERE name = ?'),
      listRepos: p(
        `SELECT name FROM repositories r WHERE name > ? AND (EXISTS(SELECT 1 FROM manifests m WHERE m.repository = r.name) OR EXISTS(SELECT 1 FROM repo_blobs l WHERE l.repository = r.name)) ORDER BY name LIMIT ?`,
      ).pluck(),
      referrers: p(
        'SELECT digest, media_type, size, artifact_type, annotations FROM manifests WHERE repository = ? AND subject = ? ORDER BY digest',
      ),
      createUpload: p('INSERT INTO uploads (id, repository, offset, started_at, updated_at) VALUES (?, ?, 0, ?, ?)'),
      getUpload: p('SELECT * FROM uploads WHERE id = ?'),
      setUploadOffset: p('UPDATE uploads SET offset = ?, updated_at = ? WHERE id = ?'),
      deleteUpload: p('DELETE FROM uploads WHERE id = ?'),
      staleUploads: p('SELECT * FROM uploads WHERE updated_at < ? ORDER BY updated_at'),
    };
  }

  getBlob(digest: string): BlobRecord | null {
    const r = this.q.getBlob.get(digest) as { digest: string; size: number; created_at: number } | undefined;
    return r ? toBlob(r) : null;
  }

  addBlobAndLink(digest: string, size: number, repository: string): void {
    const now = this.now();
    this.db.transaction(() => {
      this.q.insertBlob.run(digest, size, now);
      this.q.link.run(repository, digest, now);
      this.q.touchRepo.run(repository, now, null);
    })();
  }

  linkBlob(digest: string, repository: string): boolean {
    const now = this.now();
    return this.db.transaction(() => {
      if (!this.q.getBlob.get(digest)) return false;
      this.q.link.run(repository, digest, now);
      this.q.touchRepo.run(repository, now, null);
      return true;
    })();
  }

  getLinkedBlob(repository: string, digest: string): BlobRecord | null {
    const r = this.q.linkedBlob.get(repository, digest) as { digest: string; size: number; created_at: number } | undefined;
    return r ? toBlob(r) : null;
  }

  repositoriesWithBlob(digest: string): string[] {
    return (this.q.reposWithBlob.all(digest) as { repository: string }[]).map((r) => r.repository);
  }

  blobReferenced(repository: string, digest: string): boolean {
    return this.q.blobReferenced.get(repository, digest) !== undefined;
  }

  manifestReferenced(repository: string, digest: string): boolean {
    return this.q.manifestReferenced.get(repository, digest) !== undefined;
  }

  unlinkBlob(repository: string, digest: string): boolean {
    return this.db.transaction(() => {
      const changed = this.q.unlink.run(repository, digest).changes > 0;
      if (changed) this.forgetRepositoryIfEmpty(repository);
      return changed;
    })();
  }

  putManifest(m: NewManifest, tag: string | null, opts: { allowTagOverwrite: boolean }): PutManifestResult {
    const now = this.now();
    return this.db.transaction((): PutManifestResult => {
      const missing: ManifestReference[] = m.references.filter((r) =>
        r.kind === 'blob' ? !this.q.linkedBlob.get(m.repository, r.digest) : !this.q.hasManifest.get(m.repository, r.digest),
      );
      if (missing.length > 0) return { missing };
      let moveTag = true;
      if (tag !== null && !opts.allowTagOverwrite) {
        const existing = this.q.resolveTag.get(m.repository, tag) as { digest: string } | undefined;
        if (m.attestation && existing?.digest !== m.digest) {
          moveTag = false;
        } else if (existing && existing.digest !== m.digest) {
          // An immutable tag still follows the two moves a multi-platform push makes (see store.ts).
          // (1) only when the index adds nothing runnable: its other children must be stored attestations.
          // Otherwise anyone with push rights could wrap the old image in an index next to their own.
          const upgradesToIndex =
            m.references.some((r) => r.kind === 'manifest' && r.digest === existing.digest) &&
            m.references.every((r) => {
              if (r.kind !== 'manifest' || r.digest === existing.digest) return true;
              const child = this.q.getManifest.get(m.repository, r.digest) as ManifestRow | undefined;
              return child !== undefined && isAttestationManifest(child.body);
            });
          const childOfCurrentIndex = this.q.isChildOf.get(m.repository, existing.digest, m.digest) !== undefined;
          if (childOfCurrentIndex) moveTag = false;
          else if (!upgradesToIndex) return { missing: [], tagConflict: { existingDigest: existing.digest } };
        }
      }
      const inserted =
        this.q.insertManifest.run(
          m.repository,
          m.digest,
          m.mediaType,
          m.body.length,
          m.body,
          m.subject,
          m.artifactType,
          m.annotations ? JSON.stringify(m.annotations) : null,
          now,
        ).changes > 0;
      if (inserted) for (const r of m.references) this.q.insertRef.run(m.repository, m.digest, r.digest, r.kind);
      // GC's grace period counts from the last time a blob was referenced, not only from its upload.
      for (const r of m.references) if (r.kind === 'blob') this.q.touchLinkRef.run(now, m.repository, r.digest);
      if (tag !== null && moveTag) this.q.upsertTag.run(m.repository, tag, m.digest, now);
      this.q.touchRepo.run(m.repository, now, now);
      return moveTag ? { missing: [] } : { missing: [], tagKept: true };
    })();
  }

  getManifest(repository: string, digest: string): ManifestRecord | null {
    const r = this.q.getManifest.get(repository, digest) as ManifestRow | undefined;
    return r ? toManifest(r) : null;
  }

  resolveTag(repository: string, tag: string): string | null {
    const r = this.q.resolveTag.get(repository, tag) as { digest: string } | undefined;
    return r?.digest ?? null;
  }

  deleteManifest(repository: string, digest: string): boolean {
    const now = this.now();
    return this.db.transaction(() => {
      const deleted = this.q.deleteManifest.run(repository, digest).changes > 0;
      if (!deleted) return false;
      // A client may have seen these blobs as present a moment ago and be about to reference them: the
      // GC grace period restarts now (see gc/README.md).
      this.q.touchLinksOfManifest.run(now, repository, repository, digest);
      this.q.deleteRefs.run(repository, digest);
      this.q.deleteTagsOf.run(repository, digest);
      this.forgetRepositoryIfEmpty(repository);
      return true;
    })();
  }

  deleteTag(repository: string, tag: string): boolean {
    return this.q.deleteTag.run(repository, tag).changes > 0;
  }

  listTags(repository: string, page: Page): string[] {
    return this.q.listTags.all(repository, page.last ?? '', page.n ?? -1) as string[];
  }

  tagsOf(repository: string, digest: string): string[] {
    return this.q.tagsOf.all(repository, digest) as string[];
  }

  repositoryExists(repository: string): boolean {
    return (this.q.repoHasContent.get({ name: repository }) as { present: number }).present === 1;
  }

  listRepositories(page: Page): string[] {
    return this.q.listRepos.all(page.last ?? '', page.n ?? -1) as string[];
  }

  referrers(repository: string, subject: string, artifactType?: string): Referrer[] {
    const rows = this.q.referrers.all(repository, subject) as {
      digest: string;
      media_type: string;
      size: number;
      artifact_type: string | null;
      annotations: string | null;
    }[];
    return rows
      .filter((r) => artifactType === undefined || r.artifact_type === artifactType)
      .map((r) => ({
        digest: r.digest,
        mediaType: r.media_type,
        size: r.size,
        artifactType: r.artifact_type,
        annotations: r.annotations ? (JSON.parse(r.annotations) as Record<string, string>) : null,
      }));
  }

  createUpload(id: string, repository: string): UploadRecord {
    const now = this.now();
    this.q.createUpload.run(id, repository, now, now);
    return { id, repository, offset: 0, startedAt: now, updatedAt: now };
  }

  getUpload(id: string): UploadRecord | null {
    const r = this.q.getUpload.get(id) as Parameters<typeof toUpload>[0] | undefined;
    return r ? toUpload(r) : null;
  }

  setUploadOffset(id: string, offset: number): void {
    this.q.setUploadOffset.run(offset, this.now(), id);
  }

  deleteUpload(id: string): void {
    this.q.deleteUpload.run(id);
  }

  staleUploads(before: number): UploadRecord[] {
    return (this.q.staleUploads.all(before) as Parameters<typeof toUpload>[0][]).map(toUpload);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private forgetRepositoryIfEmpty(repository: string): void {
    if (!this.repositoryExists(repository)) this.q.deleteRepo.run(repository);
  }
}
