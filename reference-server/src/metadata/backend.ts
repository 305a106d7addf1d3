/**
 * A metadata backend: every store the server needs, on one database. Built by compose.ts from the
 * config: SQLite under the data directory (the default) or PostgreSQL (`database.url`).
 */
import type { MetadataStore } from './store.js';
import type { GcStore } from './gc-store.js';
import type { AccountStore } from './account-store.js';
import type { RepositoryStore } from './repository-store.js';
import type { KeyStore } from './key-store.js';
import type { ThrottleStore } from './throttle-store.js';

export interface MetadataBackend {
  readonly kind: 'sqlite' | 'postgres';
  readonly registry: MetadataStore;
  readonly gc: GcStore;
  readonly accounts: AccountStore;
  readonly repositories: RepositoryStore;
  readonly keys: KeyStore;
  readonly throttle: ThrottleStore;
  /** Throws when the database cannot be reached (readiness probe). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
