/**
 * `nitro-registry gc [--dry-run] [--repository ID] [--data DIR] [--config FILE] [--grace-seconds N] [--delete-untagged]`
 *
 * Offline GC on a data directory. The online safety rule (gc/README.md) relies on one process owning the
 * data directory: stop the server first, or use POST /api/repository/{id}/gc on the running server.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { openDatabase, SqliteMetadataStore } from '../metadata/sqlite-store.js';
import { UploadService } from '../registry/uploads.js';
import { createGcServices } from './index.js';
import { WHOLE_REGISTRY, type ScopeResolver } from './scope.js';
import { openRepositories } from '../repositories/store.js';

export const GC_USAGE = `Usage: nitro-registry gc [options]

Garbage-collects a registry data directory: unreferenced manifests (by policy), blob links and blobs,
blob files left by crashes, and expired upload sessions. Run it with the server stopped, or call
POST /api/repository/{id}/gc on a running server instead.

Options:
  --data DIR            data directory              (env NITRO_REGISTRY_DATA, default ./data)
  --config FILE         config file (its gc: section sets the policy)
  --repository ID       only the images of this repository (default: the whole registry)
  --dry-run             report what would be deleted; change nothing
  --grace-seconds N     keep anything uploaded, linked or referenced in the last N seconds (default 600)
  --delete-untagged     also delete untagged manifests older than the grace period (or
                        gc.delete_untagged_after_seconds)
  --json                print the report as JSON
  -h, --help            show this help
`;

export interface GcCommandOptions {
  /** Resolves --repository. Default: the Nitro repositories of the data directory and config. */
  resolveScope?: ScopeResolver;
}

export async function gcCommand(argv: string[], opts: GcCommandOptions = {}): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      config: { type: 'string' },
      repository: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'grace-seconds': { type: 'string' },
      'delete-untagged': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(GC_USAGE);
    return 0;
  }
  let graceSeconds: number | undefined;
  if (values['grace-seconds'] !== undefined) {
    if (!/^\d+$/.test(values['grace-seconds'])) throw new ConfigError('--grace-seconds must be a non-negative integer');
    graceSeconds = Number(values['grace-seconds']);
  }
  const config = loadConfig({ file: values.config, env: process.env, flags: { data: values.data, log_level: 'silent' } });
  const dbFile = join(config.dataDir, 'registry.db');
  if (!existsSync(dbFile)) throw new ConfigError(`${config.dataDir} is not a registry data directory (no registry.db)`);
  const blobs = new FsBlobStore(config.dataDir);
  await blobs.init();
  const db = openDatabase(dbFile, { durability: config.durability });
  const meta = new SqliteMetadataStore(db);
  let resolveScope = opts.resolveScope;
  if (!resolveScope) {
    const repositories = openRepositories(db, config.repositories);
    resolveScope = (id) => {
      const repo = repositories.get(id);
      return repo ? { id: repo.id, name: repo.name, owns: (image: string) => repositories.owns(repo, image) } : null;
    };
  }
  const scope = values.repository === undefined ? WHOLE_REGISTRY : resolveScope(values.repository);
  if (!scope) {
    meta.close();
    throw new ConfigError(`no repository with id ${JSON.stringify(values.repository)}`);
  }
  // The audit line goes to stderr as JSON; the report to stdout.
  const log = createLogger(process.env.NITRO_REGISTRY_LOG_LEVEL ?? 'info', process.stderr);
  const services = createGcServices({ db, meta, blobs, uploads: new UploadService(blobs, meta), config, log, schedule: false });
  try {
    const report = await services.gc.run({
      scope,
      principal: 'cli',
      dryRun: values['dry-run'] ?? false,
      ...(values['delete-untagged'] ? { deleteUntagged: true } : {}),
      ...(graceSeconds !== undefined ? { graceSeconds } : {}),
    });
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const verb = report.dry_run ? 'would delete' : 'deleted';
      process.stdout.write(
        `gc ${report.dry_run ? '(dry run) ' : ''}repository ${report.repository_id}: ${verb} ${report.manifests_deleted} manifest(s), ` +
          `${report.links_deleted} blob link(s), ${report.blobs_deleted} blob(s), ${report.orphan_files_deleted} orphan file(s), ` +
          `${report.uploads_purged} upload(s); ${report.bytes_freed} bytes; ${report.duration_ms} ms\n`,
      );
    }
    return 0;
  } finally {
    await services.close();
    meta.close();
  }
}
