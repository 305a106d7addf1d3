/**
 * `nitro-registry migrate [--check] [--from-sqlite PATH]` — schema migrations of the metadata database
 * the config names (compose.ts), and the move of an embedded registry's metadata into PostgreSQL.
 * Replicas apply pending migrations themselves at start (under a lock); running this first, before a
 * rollout, keeps the schema change out of the replicas' start-up and lets a deploy pipeline check it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { loadConfig, ConfigError, type Config } from '../config.js';
import { openMetadata } from '../compose.js';
import { SQLITE_FILE } from './sqlite/index.js';
import { LATEST_VERSION as SQLITE_LATEST, MIGRATIONS as SQLITE_MIGRATIONS, migrate as migrateSqlite, openDatabase } from './sqlite/database.js';
import type { PostgresBackend } from './postgres/index.js';

export const MIGRATE_USAGE = `Usage:
  nitro-registry migrate [--config FILE] [--data DIR]             apply pending schema migrations
  nitro-registry migrate --check [--config FILE] [--data DIR]     list pending migrations; change nothing
  nitro-registry migrate --from-sqlite PATH [--config FILE]       copy an embedded registry into PostgreSQL

Migrates the metadata database the server would use: PostgreSQL when database.url is set (config file,
or NITRO_REGISTRY_DATABASE_URL), else the SQLite file under the data directory. Servers apply pending
migrations at start as well (replicas starting together apply them once); run this before a rollout to
do it ahead, or with --check in a deploy pipeline.

Options:
  --config FILE        config file                                 (env NITRO_REGISTRY_CONFIG)
  --data DIR           data directory, for SQLite                  (env NITRO_REGISTRY_DATA, default ./data)
  --check              exit 1 and name the pending migrations, if any; apply nothing
  --from-sqlite PATH   copy the metadata of an embedded registry (PATH: its data directory or its
                       ${SQLITE_FILE}) into the configured PostgreSQL database, which must be empty:
                       repositories, blobs, manifests, tags, referrers, upload sessions, users, tokens,
                       memberships, signing keys and repository configuration, in one transaction.
                       The blob files are not copied: point the new servers' --data (or storage) at the
                       same blobs. Stop the old server first; pending migrations are applied first.
  -h, --help           show this help

Exit codes: 0 done (or nothing pending), 1 pending migrations (--check) or refused (target not empty),
2 usage or configuration error.
`;

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(s);

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      data: { type: 'string' },
      check: { type: 'boolean' },
      'from-sqlite': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out(MIGRATE_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new ConfigError(`unexpected argument ${positionals[0]}`);
  if (values.check && values['from-sqlite'] !== undefined) throw new ConfigError('--check and --from-sqlite do not go together');
  const config = loadConfig({ file: values.config, env: process.env, flags: { data: values.data, log_level: 'silent' } });
  if (values['from-sqlite'] !== undefined) return fromSqlite(config, values['from-sqlite']);
  return config.database.url ? postgres(config, values.check ?? false) : sqlite(config, values.check ?? false);
}

async function postgres(config: Config, check: boolean): Promise<number> {
  const backend = (await openMetadata(config, { migrate: false })) as PostgresBackend;
  try {
    const pending = await backend.pendingMigrations();
    if (check) return reportPending(pending, 'PostgreSQL');
    const applied = await backend.applyMigrations();
    out(applied.length > 0 ? `applied migration(s) ${applied.join(', ')}\n` : 'schema is up to date\n');
    return 0;
  } finally {
    await backend.close();
  }
}

function reportPending(pending: readonly { version: number; description: string }[], what: string): number {
  if (pending.length === 0) {
    out(`${what} schema is up to date\n`);
    return 0;
  }
  for (const m of pending) out(`pending: ${m.version} ${m.description}\n`);
  err(`${pending.length} pending migration(s) on the ${what} database: run 'nitro-registry migrate'\n`);
  return 1;
}

function sqliteFile(path: string): string {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, SQLITE_FILE) : path;
  if (!existsSync(file)) throw new ConfigError(`${file} does not exist (expected a data directory holding ${SQLITE_FILE}, or the file itself)`);
  return file;
}

function sqlite(config: Config, check: boolean): number {
  const file = sqliteFile(config.dataDir);
  if (check) {
    const db = new Database(file, { readonly: true });
    try {
      const current = db.pragma('user_version', { simple: true }) as number;
      return reportPending(
        SQLITE_MIGRATIONS.filter((m) => m.version > current),
        'SQLite',
      );
    } finally {
      db.close();
    }
  }
  const db = openDatabase(file, { migrate: false });
  try {
    const applied = migrateSqlite(db);
    out(applied.length > 0 ? `applied migration(s) ${applied.join(', ')}\n` : `schema is up to date (version ${SQLITE_LATEST})\n`);
    return 0;
  } finally {
    db.close();
  }
}

async function fromSqlite(config: Config, path: string): Promise<number> {
  if (!config.database.url) throw new ConfigError('--from-sqlite needs the target: database.url in the config, or NITRO_REGISTRY_DATABASE_URL');
  const file = sqliteFile(path);
  const { copyFromSqlite, TargetNotEmptyError } = await import('./postgres/from-sqlite.js');
  // Brings an older file to the current schema first, as starting the old server would.
  const source = openDatabase(file);
  try {
    const backend = (await openMetadata(config)) as PostgresBackend;
    try {
      const counts = await copyFromSqlite(source, backend.db);
      out(`copied ${file} into PostgreSQL:\n`);
      for (const [table, n] of Object.entries(counts)) out(`  ${table.padEnd(20)} ${n}\n`);
      return 0;
    } catch (e) {
      if (e instanceof TargetNotEmptyError) {
        err(`refused: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      await backend.close();
    }
  } finally {
    source.close();
  }
}
