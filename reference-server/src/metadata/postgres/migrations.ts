/**
 * The PostgreSQL schema as versioned migrations, recorded in `nitro_migrations`. They are applied at
 * open (and by `nitro-registry migrate`) holding a session advisory lock, so when several replicas start
 * at once one applies them and the others wait, then find nothing left to do. Each migration runs in its
 * own transaction together with the row recording it: it fully happens or not at all.
 *
 * Never edit a released migration; add the next version. Names, tags and digests are COLLATE "C" so
 * listings come out in byte order, as the Distribution spec asks (and as SQLite sorts).
 */
import type pg from 'pg';
import { LOCK, type Queryable } from './database.js';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

const K = 'TEXT COLLATE "C"';

const V1 = `
CREATE TABLE blobs (
  digest      ${K} PRIMARY KEY,
  size        BIGINT NOT NULL,
  created_at  BIGINT NOT NULL
);
-- A blob is visible in a repository only through a link (pushed or mounted there).
CREATE TABLE repo_blobs (
  repository          ${K} NOT NULL,
  digest              ${K} NOT NULL,
  linked_at           BIGINT NOT NULL,
  last_referenced_at  BIGINT,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs (digest);
CREATE TABLE manifests (
  repository     ${K} NOT NULL,
  digest         ${K} NOT NULL,
  media_type     TEXT NOT NULL,
  size           BIGINT NOT NULL,
  body           BYTEA NOT NULL,
  subject        ${K},
  artifact_type  TEXT,
  annotations    TEXT,
  created_at     BIGINT NOT NULL,
  attestation    BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX manifests_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
-- What a manifest references: its config and layers (kind 'blob') or index children (kind 'manifest').
CREATE TABLE manifest_refs (
  repository  ${K} NOT NULL,
  digest      ${K} NOT NULL,
  child       ${K} NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  -- An index child that describes another manifest (BuildKit attestation entries): a referrer of
  -- subject, reported with this artifact_type/annotations, while this index row exists.
  subject        ${K},
  artifact_type  TEXT,
  annotations    TEXT,
  PRIMARY KEY (repository, digest, kind, child)
);
CREATE INDEX manifest_refs_child ON manifest_refs (child, kind);
CREATE INDEX manifest_refs_subject ON manifest_refs (repository, subject) WHERE subject IS NOT NULL;
CREATE INDEX manifest_refs_repo_child ON manifest_refs (repository, child, kind);
CREATE TABLE tags (
  repository  ${K} NOT NULL,
  tag         ${K} NOT NULL,
  digest      ${K} NOT NULL,
  updated_at  BIGINT NOT NULL,
  PRIMARY KEY (repository, tag)
);
CREATE INDEX tags_digest ON tags (repository, digest);
CREATE TABLE repositories (
  name        ${K} PRIMARY KEY,
  created_at  BIGINT NOT NULL,
  last_push   BIGINT
);
CREATE TABLE uploads (
  id           ${K} PRIMARY KEY,
  repository   ${K} NOT NULL,
  byte_offset  BIGINT NOT NULL,
  state        TEXT NOT NULL,
  started_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  lease_owner  TEXT,
  lease_until  BIGINT
);
CREATE INDEX uploads_updated ON uploads (updated_at);
CREATE TABLE gc_runs (
  id           BIGSERIAL PRIMARY KEY,
  scope        ${K} NOT NULL,
  finished_at  BIGINT NOT NULL,
  dry_run      BOOLEAN NOT NULL,
  report       TEXT NOT NULL
);
CREATE INDEX gc_runs_scope ON gc_runs (scope, finished_at);
CREATE TABLE auth_users (
  username       ${K} PRIMARY KEY,
  password_hash  TEXT,
  admin          BOOLEAN NOT NULL DEFAULT false,
  created_at     BIGINT NOT NULL
);
CREATE TABLE auth_tokens (
  id            BIGSERIAL PRIMARY KEY,
  username      ${K} NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
  name          ${K} NOT NULL,
  token_hash    TEXT NOT NULL UNIQUE,
  scopes        TEXT,
  expires_at    BIGINT,
  created_at    BIGINT NOT NULL,
  last_used_at  BIGINT,
  UNIQUE (username, name)
);
CREATE TABLE auth_members (
  project   ${K} NOT NULL,
  username  ${K} NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  PRIMARY KEY (project, username)
);
CREATE INDEX auth_members_user ON auth_members (username);
CREATE TABLE auth_refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  username    ${K} NOT NULL REFERENCES auth_users (username) ON DELETE CASCADE,
  method      TEXT NOT NULL,
  token_id    BIGINT REFERENCES auth_tokens (id) ON DELETE CASCADE,
  expires_at  BIGINT NOT NULL
);
CREATE TABLE nitro_repositories (
  id          ${K} PRIMARY KEY,
  name        ${K} NOT NULL CONSTRAINT nitro_repositories_name_key UNIQUE,
  visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
  config      TEXT NOT NULL,
  source      TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE TABLE auth_signing_keys (
  kid          ${K} PRIMARY KEY,
  alg          TEXT NOT NULL,
  private_pem  TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  active       BOOLEAN NOT NULL DEFAULT false,
  retired_at   BIGINT
);
CREATE UNIQUE INDEX auth_signing_keys_one_active ON auth_signing_keys (active) WHERE active;
-- Keys are bytes: the callers' keys join their parts with NUL, which TEXT cannot hold.
CREATE TABLE throttle (
  key    BYTEA PRIMARY KEY,
  count  BIGINT NOT NULL,
  since  BIGINT NOT NULL
);
-- Counters replicas poll to learn that something changed elsewhere (the repository cache).
CREATE TABLE meta_versions (
  name     TEXT PRIMARY KEY,
  version  BIGINT NOT NULL
);
INSERT INTO meta_versions (name, version) VALUES ('nitro_repositories', 1);
`;

/** Ordered; each runs once. */
export const MIGRATIONS: readonly Migration[] = [{ version: 1, description: 'initial schema', sql: V1 }];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export class DatabaseVersionError extends Error {
  override name = 'DatabaseVersionError';
}

const ENSURE_TABLE = `CREATE TABLE IF NOT EXISTS nitro_migrations (
  version      INTEGER PRIMARY KEY,
  description  TEXT NOT NULL,
  applied_at   TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

async function appliedVersions(c: Queryable): Promise<number[] | null> {
  const exists = await c.query<{ t: string | null }>(`SELECT to_regclass('nitro_migrations')::text AS t`);
  if (exists.rows[0]?.t == null) return null;
  return (await c.query<{ version: number }>('SELECT version FROM nitro_migrations ORDER BY version')).rows.map((r) => r.version);
}

function checkNotNewer(applied: readonly number[]): void {
  const newest = applied.length > 0 ? Math.max(...applied) : 0;
  if (newest > LATEST_VERSION) {
    throw new DatabaseVersionError(
      `the database is at schema version ${newest}, newer than this server knows (${LATEST_VERSION}): upgrade nitro-registry`,
    );
  }
}

/** Migrations not yet applied (reads only; safe while replicas run). */
export async function pendingMigrations(c: Queryable): Promise<Migration[]> {
  const applied = (await appliedVersions(c)) ?? [];
  checkNotNewer(applied);
  return MIGRATIONS.filter((m) => !applied.includes(m.version));
}

/** Applies pending migrations under the migrations lock; returns the versions this call applied. */
export async function applyMigrations(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1, 0)', [LOCK.migrations]);
    try {
      await client.query(ENSURE_TABLE);
      const pending = await pendingMigrations(client);
      const done: number[] = [];
      for (const m of pending) {
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO nitro_migrations (version, description) VALUES ($1, $2)', [m.version, m.description]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`migration ${m.version} (${m.description}) failed: ${(e as Error).message}`, { cause: e });
        }
        done.push(m.version);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, 0)', [LOCK.migrations]);
    }
  } catch (e) {
    if ((e as { code?: string }).code === undefined && !(e instanceof DatabaseVersionError) && !/^migration /.test((e as Error).message)) broken = e as Error;
    throw e;
  } finally {
    client.release(broken);
  }
}
