/**
 * `nitro-registry migrate-blobs --to-s3 [--config FILE] [--from DIR] [--dry-run] [--concurrency N] [--json]`
 *
 * A command of its own rather than an option of `migrate` (which applies database schema migrations):
 * it moves bytes between blob stores and never touches the metadata.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError } from '../config.js';
import { openBlobStore } from '../compose.js';
import { FsBlobStore } from './fs-blob-store.js';
import { migrateBlobs } from './migrate.js';

export const MIGRATE_BLOBS_USAGE = `Usage: nitro-registry migrate-blobs --to-s3 [options]

Copies every blob from the filesystem store (<data>/blobs) to the S3 bucket the config names
(storage.s3), verifying each digest while it streams. Blobs already in the bucket with the right size
are skipped, so an interrupted run is resumed by running it again. The metadata is not touched: when it
reports no failures, set storage.driver: s3 and restart the server (docs/s3.md). Pushes made while it
runs are picked up by running it once more after the server has been stopped.

Options:
  --to-s3               the destination is storage.s3 (required; the only destination so far)
  --config FILE         config file with the storage.s3 section   (env NITRO_REGISTRY_CONFIG)
  --from DIR            data directory to read blobs from         (default: the config's data directory)
  --concurrency N       blobs copied at once (default 4)
  --dry-run             list what would be copied; copy nothing
  --json                print the report as JSON
  -h, --help            show this help

Environment: NITRO_REGISTRY_CONFIG, NITRO_REGISTRY_DATA, NITRO_REGISTRY_S3_* and AWS_* (credentials).
Exit codes: 0 every blob is in the bucket, 1 some failed (listed), 2 usage or configuration error.
`;

export async function migrateBlobsCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'to-s3': { type: 'boolean' },
      config: { type: 'string' },
      from: { type: 'string' },
      data: { type: 'string' },
      concurrency: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    out.write(MIGRATE_BLOBS_USAGE);
    return 0;
  }
  if (!values['to-s3']) throw new ConfigError('migrate-blobs needs --to-s3 (the destination); see --help');
  const concurrency = values.concurrency === undefined ? 4 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new ConfigError('--concurrency must be an integer from 1 to 64');
  const config = loadConfig({ file: values.config, env: process.env, flags: { data: values.data } });
  // The destination is the S3 store the config describes, whatever driver the server uses today.
  config.storage.driver = 's3';
  const fromDir = values.from ?? config.dataDir;
  if (!existsSync(join(fromDir, 'blobs'))) throw new ConfigError(`--from ${fromDir}: no blobs/ directory there (is it a registry data directory?)`);

  const source = new FsBlobStore(fromDir);
  const dest = await openBlobStore(config);
  try {
    await dest.init();
    const report = await migrateBlobs(source, dest, {
      concurrency,
      dryRun: values['dry-run'] ?? false,
      onBlob: (b, outcome, e) => {
        if (!values.json && outcome !== 'present') out.write(`${outcome.padEnd(7)} ${b.digest} ${b.size}${e ? `: ${e.message}` : ''}\n`);
      },
    });
    if (values.json) out.write(JSON.stringify({ ...report, dryRun: values['dry-run'] ?? false }) + '\n');
    else {
      const mib = (report.copiedBytes / 1024 / 1024).toFixed(1);
      out.write(
        `${values['dry-run'] ? 'would copy' : 'copied'} ${report.copied} blobs (${mib} MiB), ${report.present} already present, ${report.failed.length} failed\n`,
      );
    }
    return report.failed.length === 0 ? 0 : 1;
  } finally {
    await dest.close();
  }
}
