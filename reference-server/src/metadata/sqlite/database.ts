/**
 * The embedded database: one SQLite file (better-sqlite3: synchronous, one connection, WAL) holding every
 * table of the metadata backend. Versioned migrations run at open (PRAGMA user_version); migration 1 is
 * the schema as first released, written with IF NOT EXISTS so a database created before migrations were
 * versioned upgrades in place.
 *
 * WAL + synchronous=NORMAL: a killed process loses nothing it acknowledged; only a power loss can drop
 * the last few commits (never corrupt them). `durability: 'full'` fsyncs each commit.
 */
import Database from 'better-sqlite3';
import { attachmentsOfIndex, enrichAttachment, isAttestationManifest } from '../../oci/manifest.js';

export type DB = Database.Database;

const V1 = `
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
CREATE TABLE IF NOT EXISTS gc_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  scope         TEXT NOT NULL,
  finished_at   INTEGER NOT NULL,
  dry_run       INTEGER NOT NULL,
  report        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gc_runs_scope ON gc_runs(scope, finished_at);
CREATE TABLE IF NOT EXISTS auth_users (
  username      TEXT PRIMARY KEY,
  password_hash TEXT,
  admin         INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_tokens (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  token_hash    TEXT NOT NULL UNIQUE,
  scopes        TEXT,
  expires_at    INTEGER,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  UNIQUE (username, name)
);
CREATE TABLE IF NOT EXISTS auth_members (
  project   TEXT NOT NULL,
  username  TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  PRIMARY KEY (project, username)
);
CREATE TABLE IF NOT EXISTS auth_refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  username    TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  method      TEXT NOT NULL,
  token_id    INTEGER REFERENCES auth_tokens(id) ON DELETE CASCADE,
  expires_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nitro_repositories (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
  config      TEXT NOT NULL,
  source      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
`;

interface Migration {
  readonly version: number;
  readonly description: string;
  up(db: DB): void;
}

const hasColumn = (db: DB, table: string, column: string) =>
  (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);

/** Ordered; each runs once, in its own transaction, and bumps user_version. Never edit a released one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    up(db) {
      db.exec(V1);
      // Added after the first release, before migrations were versioned.
      if (!hasColumn(db, 'repo_blobs', 'last_referenced_at')) db.exec('ALTER TABLE repo_blobs ADD COLUMN last_referenced_at INTEGER');
    },
  },
  {
    version: 2,
    description: 'shared state for replicas: upload state and leases, attestation flag, signing keys, throttles',
    up(db) {
      db.exec(`
        ALTER TABLE uploads ADD COLUMN state TEXT;
        ALTER TABLE uploads ADD COLUMN lease_owner TEXT;
        ALTER TABLE uploads ADD COLUMN lease_until INTEGER;
        ALTER TABLE manifests ADD COLUMN attestation INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE auth_signing_keys (
          kid         TEXT PRIMARY KEY,
          alg         TEXT NOT NULL,
          private_pem TEXT NOT NULL,
          created_at  INTEGER NOT NULL,
          active      INTEGER NOT NULL DEFAULT 0,
          retired_at  INTEGER
        );
        CREATE UNIQUE INDEX auth_signing_keys_one_active ON auth_signing_keys(active) WHERE active = 1;
        CREATE TABLE throttle (
          key    TEXT PRIMARY KEY,
          count  INTEGER NOT NULL,
          since  INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE meta_versions (
          name     TEXT PRIMARY KEY,
          version  INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO meta_versions (name, version) VALUES ('nitro_repositories', 1);
      `);
      // Sessions from before: their hash state is rebuilt from the file on the next chunk.
      db.prepare(`UPDATE uploads SET state = json_object('size', offset, 'hash', '') WHERE state IS NULL`).run();
      const mark = db.prepare('UPDATE manifests SET attestation = 1 WHERE repository = ? AND digest = ?');
      for (const row of db.prepare('SELECT repository, digest, body FROM manifests').all() as { repository: string; digest: string; body: Buffer }[]) {
        if (isAttestationManifest(row.body)) mark.run(row.repository, row.digest);
      }
    },
  },
  {
    version: 3,
    description: 'index-attached referrers (BuildKit attestation manifests) on manifest_refs',
    up(db) {
      db.exec(`
        ALTER TABLE manifest_refs ADD COLUMN subject TEXT;
        ALTER TABLE manifest_refs ADD COLUMN artifact_type TEXT;
        ALTER TABLE manifest_refs ADD COLUMN annotations TEXT;
        CREATE INDEX manifest_refs_subject ON manifest_refs(repository, subject) WHERE subject IS NOT NULL;
      `);
      // Indexes pushed before: their attestation entries become referrers now.
      const set = db.prepare(
        `UPDATE manifest_refs SET subject = ?, artifact_type = ?, annotations = ? WHERE repository = ? AND digest = ? AND child = ? AND kind = 'manifest'`,
      );
      const child = db.prepare('SELECT body FROM manifests WHERE repository = ? AND digest = ?').pluck();
      const indexes = db.prepare(`SELECT repository, digest, media_type, body FROM manifests WHERE CAST(body AS TEXT) LIKE '%attestation-manifest%'`);
      for (const row of indexes.all() as { repository: string; digest: string; media_type: string; body: Buffer }[]) {
        for (const r of attachmentsOfIndex(row.body, row.media_type)) {
          const a = enrichAttachment(r.describes, (child.get(row.repository, r.digest) as Buffer | undefined) ?? null);
          set.run(a.subject, a.artifactType, a.annotations ? JSON.stringify(a.annotations) : null, row.repository, row.digest, r.digest);
        }
      }
    },
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export class DatabaseVersionError extends Error {
  override name = 'DatabaseVersionError';
}

/** Applies pending migrations; returns the versions applied. */
export function migrate(db: DB): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_VERSION) {
    throw new DatabaseVersionError(
      `the database is at schema version ${current}, newer than this server knows (${LATEST_VERSION}): upgrade nitro-registry`,
    );
  }
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}

/** Opens (creating if needed) the database file and applies pending migrations. */
export function openDatabase(file: string, opts: { durability?: 'normal' | 'full'; migrate?: boolean } = {}): DB {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (opts.migrate !== false) migrate(db);
  return db;
}
