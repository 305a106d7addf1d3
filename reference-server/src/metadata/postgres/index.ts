/**
 * The PostgreSQL metadata backend: every store on one database, shared by any number of replicas
 * (`database: {url, pool_size}` in the config). Migrations are applied at open unless `migrate: false`
 * (`nitro-registry migrate --check`), under an advisory lock so replicas starting together apply them once.
 */
import type { Logger } from 'pino';
import type { MetadataBackend } from '../backend.js';
import { createPool, PoolDb } from './database.js';
import { applyMigrations, pendingMigrations, type Migration } from './migrations.js';
import { PostgresMetadataStore } from './registry-store.js';
import { PostgresGcStore } from './gc-store.js';
import { PostgresAccountStore } from './account-store.js';
import { PostgresRepositoryStore } from './repository-store.js';
import { PostgresKeyStore } from './key-store.js';
import { PostgresThrottleStore } from './throttle-store.js';

export interface PostgresOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly migrate: boolean;
  readonly log?: Logger;
  readonly now?: () => number;
}

export interface PostgresBackend extends MetadataBackend {
  readonly kind: 'postgres';
  readonly registry: PostgresMetadataStore;
  readonly db: PoolDb;
  /** Migrations not applied yet. */
  pendingMigrations(): Promise<Migration[]>;
  /** Applies pending migrations (under the migrations lock); returns the versions applied. */
  applyMigrations(): Promise<number[]>;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export async function openPostgresBackend(opts: PostgresOptions): Promise<PostgresBackend> {
  // GC's exclusive run and a blob's lock each hold a connection while they wait: two at least.
  const pool = createPool(opts.url, Math.max(2, opts.poolSize), (e) => opts.log?.warn({ err: e.message }, 'postgres: idle connection lost'));
  const db = new PoolDb(pool);
  const now = opts.now ?? Date.now;
  try {
    if (opts.migrate) {
      const applied = await applyMigrations(pool);
      if (applied.length > 0) opts.log?.info({ applied }, 'postgres: schema migrations applied');
    } else {
      await pool.query('SELECT 1');
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    const err = e as Error;
    // pg's connection errors never contain the password; say which database it was.
    err.message = `PostgreSQL at ${redactUrl(opts.url)}: ${err.message}`;
    throw err;
  }
  let closed = false;
  return {
    kind: 'postgres',
    db,
    registry: new PostgresMetadataStore(db, now),
    gc: new PostgresGcStore(db, now, db),
    accounts: new PostgresAccountStore(db),
    repositories: new PostgresRepositoryStore(db),
    keys: new PostgresKeyStore(db),
    throttle: new PostgresThrottleStore(db),
    pendingMigrations: () => pendingMigrations(pool),
    applyMigrations: () => applyMigrations(pool),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
