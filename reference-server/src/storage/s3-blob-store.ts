/** The S3 blob driver. Being written: not yet available. */
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import type { BlobStore } from './blob-store.js';

export async function openS3BlobStore(_raw: Record<string, unknown>, _opts: { log?: Logger }): Promise<BlobStore> {
  throw new ConfigError('storage.driver s3 is not available in this build yet');
}
