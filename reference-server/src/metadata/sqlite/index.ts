/** The embedded metadata backend: every store on one SQLite file under the data directory. */
import { join } from 'node:path';
import type { MetadataBackend } from '../backend.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { openDatabase, type DB } from './database.js';
import { SqliteMetadataStore } from './registry-store.js';
import { SqliteGcStore } from './gc-store.js';
import { SqliteAccountStore } from './account-store.js';
import { SqliteRepositoryStore } from './repository-store.js';
import { SqliteKeyStore } from './key-store.js';
import { SqliteThrottleStore } from './throttle-store.js';

export interface SqliteBackend extends MetadataBackend {
  readonly kind: 'sqlite';
  readonly db: DB;
}

export const SQLITE_FILE = 'registry.db';

export function sqliteBackendOn(db: DB, now: () => number = Date.now): SqliteBackend {
  const locks = new KeyedMutex();
  return {
    kind: 'sqlite',
    db,
    registry: new SqliteMetadataStore(db, locks, now),
    gc: new SqliteGcStore(db, locks, now),
    accounts: new SqliteAccountStore(db),
    repositories: new SqliteRepositoryStore(db),
    keys: new SqliteKeyStore(db),
    throttle: new SqliteThrottleStore(db),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

export function openSqliteBackend(dataDir: string, opts: { durability?: 'normal' | 'full'; now?: () => number } = {}): SqliteBackend {
  const db = openDatabase(join(dataDir, SQLITE_FILE), opts.durability ? { durability: opts.durability } : {});
  return sqliteBackendOn(db, opts.now);
}
