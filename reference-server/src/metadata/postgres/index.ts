/** The PostgreSQL metadata backend (replicas share one database). Being written: not yet available. */
import type { Logger } from 'pino';
import { ConfigError } from '../../config.js';
import type { MetadataBackend } from '../backend.js';

export interface PostgresOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly migrate: boolean;
  readonly log?: Logger;
  readonly now?: () => number;
}

export async function openPostgresBackend(_opts: PostgresOptions): Promise<MetadataBackend> {
  throw new ConfigError('database.url: the PostgreSQL backend is not available in this build yet');
}
