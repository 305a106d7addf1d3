/** The S3 blob driver's entry point (compose.ts imports it lazily: the AWS SDK loads only when used). */
import type { Logger } from 'pino';
import type { BlobStore } from './blob-store.js';
import { parseS3Config } from './s3/config.js';
import { S3BlobStore } from './s3/store.js';

export { S3BlobStore } from './s3/store.js';
export { parseS3Config } from './s3/config.js';

/** Validates `storage.s3` (ConfigError naming the setting) and builds the store; init() checks the bucket. */
export async function openS3BlobStore(raw: Record<string, unknown>, opts: { log?: Logger }): Promise<BlobStore> {
  return new S3BlobStore(parseS3Config(raw), opts.log ? { log: opts.log } : {});
}
