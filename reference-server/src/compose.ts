/**
 * The one composition root for storage and metadata: `serve`, `gc`, `user`, `token`, `keys` and `migrate`
 * all open their backends here, from the same Config, so a CLI always sees exactly what the server does.
 *
 *   database.url absent  → SQLite at <data>/registry.db            (metadata/sqlite/)
 *   database.url set     → PostgreSQL, shared by every replica      (metadata/postgres/)
 *   storage.driver       → filesystem under <data> (default) | s3   (storage/)
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { SetupError, fsReason } from './setup-error.js';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { BlobStore } from './storage/blob-store.js';
import { FsBlobStore } from './storage/fs-blob-store.js';
import type { MetadataBackend } from './metadata/backend.js';
import { openSqliteBackend } from './metadata/sqlite/index.js';

export interface Backends {
  readonly blobs: BlobStore;
  readonly metadata: MetadataBackend;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly log?: Logger;
  /** Clock for the metadata store (tests). */
  readonly now?: () => number;
  /** Apply pending database migrations (default true; `migrate --check` passes false). */
  readonly migrate?: boolean;
}

export async function openBlobStore(config: Config, opts: OpenOptions = {}): Promise<BlobStore> {
  if (config.storage.driver === 's3') {
    const { openS3BlobStore } = await import('./storage/s3-blob-store.js');
    return openS3BlobStore(config.storage.s3, { ...(opts.log ? { log: opts.log } : {}) });
  }
  return new FsBlobStore(config.dataDir, { syncDirectories: config.durability === 'full' });
}

export async function openMetadata(config: Config, opts: OpenOptions = {}): Promise<MetadataBackend> {
  if (config.database.url) {
    const { openPostgresBackend } = await import('./metadata/postgres/index.js');
    return openPostgresBackend({
      url: config.database.url,
      poolSize: config.database.poolSize,
      migrate: opts.migrate ?? true,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
  }
  ensureDataDir(config);
  return openSqliteBackend(config.dataDir, { durability: config.durability, ...(opts.now ? { now: opts.now } : {}) });
}

/** The data directory (blobs, uploads, SQLite), created if needed; else one line naming the setting. */
export function ensureDataDir(config: Config): void {
  try {
    mkdirSync(config.dataDir, { recursive: true });
    accessSync(config.dataDir, constants.W_OK);
  } catch (e) {
    throw new SetupError(`data (--data, NITRO_REGISTRY_DATA) ${config.dataDir}: cannot be created or written: ${fsReason(e)}`);
  }
}

/** Opens both; closes what was opened if the second fails. */
export async function openBackends(config: Config, opts: OpenOptions = {}): Promise<Backends> {
  if (config.storage.driver === 'filesystem' || !config.database.url) ensureDataDir(config);
  const blobs = await openBlobStore(config, opts);
  await blobs.init();
  let metadata: MetadataBackend;
  try {
    metadata = await openMetadata(config, opts);
  } catch (e) {
    await blobs.close();
    throw e;
  }
  return {
    blobs,
    metadata,
    async close() {
      await metadata.close();
      await blobs.close();
    },
  };
}
