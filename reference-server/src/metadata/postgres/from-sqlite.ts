/**
 * Copies an embedded registry's metadata (SQLite, metadata/sqlite/) into an empty PostgreSQL database:
 * repositories, blobs and links, manifests with their references, subjects (referrers) and tags, upload
 * sessions, GC history, users, tokens, memberships, refresh tokens, signing keys and the Nitro repository
 * configuration. Login throttles are not copied (they are minutes long).
 *
 * All of it in ONE PostgreSQL transaction (a failure leaves the target empty), read from ONE SQLite read
 * transaction (a consistent snapshot even while a server still writes the file; stop it first anyway,
 * or pushes made after the snapshot are not in the copy). The target must be empty: merging two
 * registries is not what this does. Rows go over in batches as JSON (json_populate_recordset), so memory
 * stays bounded by the batch, not the registry.
 */
import { flag } from '../rows.js';
import type { DB } from '../sqlite/database.js';
import { LOCK, type PoolDb, type Queryable } from './database.js';

type Row = Record<string, unknown>;

interface TableCopy {
  readonly table: string;
  /** SELECT on the SQLite side, in a stable order. */
  readonly select: string;
  /** SQLite row → PostgreSQL row (column names of the target table). */
  readonly map?: (r: Row) => Row;
}

// bytea in JSON: PostgreSQL's hex input format.
const hex = (v: unknown) => `\\x${Buffer.from(v as Buffer).toString('hex')}`;

const COPIES: readonly TableCopy[] = [
  { table: 'blobs', select: 'SELECT digest, size, created_at FROM blobs ORDER BY digest' },
  { table: 'repo_blobs', select: 'SELECT repository, digest, linked_at, last_referenced_at FROM repo_blobs ORDER BY repository, digest' },
  {
    table: 'manifests',
    select: 'SELECT * FROM manifests ORDER BY repository, digest',
    map: (r) => ({ ...r, body: hex(r.body), attestation: flag(r.attestation) }),
  },
  {
    table: 'manifest_refs',
    select: 'SELECT repository, digest, child, kind, subject, artifact_type, annotations FROM manifest_refs ORDER BY repository, digest, kind, child',
  },
  { table: 'tags', select: 'SELECT repository, tag, digest, updated_at FROM tags ORDER BY repository, tag' },
  { table: 'repositories', select: 'SELECT name, created_at, last_push FROM repositories ORDER BY name' },
  {
    table: 'uploads',
    select: 'SELECT * FROM uploads ORDER BY id',
    // A lease belongs to a process of the old server: not carried over.
    map: (r) => ({
      id: r.id,
      repository: r.repository,
      byte_offset: r.offset,
      state: r.state ?? JSON.stringify({ size: r.offset, hash: '' }),
      started_at: r.started_at,
      updated_at: r.updated_at,
    }),
  },
  { table: 'gc_runs', select: 'SELECT scope, finished_at, dry_run, report FROM gc_runs ORDER BY id', map: (r) => ({ ...r, dry_run: flag(r.dry_run) }) },
  { table: 'auth_users', select: 'SELECT * FROM auth_users ORDER BY username', map: (r) => ({ ...r, admin: flag(r.admin) }) },
  { table: 'auth_tokens', select: 'SELECT * FROM auth_tokens ORDER BY id' },
  { table: 'auth_members', select: 'SELECT * FROM auth_members ORDER BY project, username' },
  { table: 'auth_refresh_tokens', select: 'SELECT * FROM auth_refresh_tokens ORDER BY token_hash' },
  { table: 'nitro_repositories', select: 'SELECT * FROM nitro_repositories ORDER BY id' },
  { table: 'auth_signing_keys', select: 'SELECT * FROM auth_signing_keys ORDER BY kid', map: (r) => ({ ...r, active: flag(r.active) }) },
];

/** Tables whose rows make a database "not empty" for the copy. */
const CONTENT_TABLES = COPIES.map((c) => c.table);

const BATCH = 500;

export class TargetNotEmptyError extends Error {
  override name = 'TargetNotEmptyError';
}

export type CopyCounts = Record<string, number>;

async function insertBatch(c: Queryable, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!).map((k) => `"${k}"`).join(', ');
  await c.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${table}, $1::json)`, [JSON.stringify(rows)]);
}

/** Copies everything; returns rows copied per table. Throws TargetNotEmptyError (nothing written) if the target has content. */
export async function copyFromSqlite(source: DB, target: PoolDb): Promise<CopyCounts> {
  const counts: CopyCounts = {};
  return target.tx(async (c) => {
    // Replicas started too early, or two copies at once, must not interleave with this one.
    await c.query('SELECT pg_advisory_xact_lock($1, 1)', [LOCK.migrations]);
    for (const table of CONTENT_TABLES) {
      if (((await c.query(`SELECT 1 FROM ${table} LIMIT 1`)).rowCount ?? 0) > 0) {
        throw new TargetNotEmptyError(`the PostgreSQL database is not empty (table ${table} has rows): copy only into a new, empty database`);
      }
    }
    source.exec('BEGIN'); // one read snapshot of the whole SQLite file
    try {
      for (const copy of COPIES) {
        let batch: Row[] = [];
        let n = 0;
        // Statement iteration stays open across the awaits: nothing else uses this connection meanwhile.
        for (const raw of source.prepare(copy.select).iterate() as Iterable<Row>) {
          batch.push(copy.map ? copy.map(raw) : raw);
          if (batch.length === BATCH) {
            await insertBatch(c, copy.table, batch);
            n += batch.length;
            batch = [];
          }
        }
        await insertBatch(c, copy.table, batch);
        counts[copy.table] = n + batch.length;
      }
    } finally {
      source.exec('COMMIT');
    }
    // Serial ids were copied as they were: the sequences continue after them.
    await c.query(`SELECT setval(pg_get_serial_sequence('auth_tokens', 'id'), GREATEST((SELECT MAX(id) FROM auth_tokens), 1), (SELECT MAX(id) IS NOT NULL FROM auth_tokens))`);
    // Replicas' repository caches must reload.
    await c.query("UPDATE meta_versions SET version = version + 1 WHERE name = 'nitro_repositories'");
    return counts;
  });
}
