/**
 * `nitro-registry gc [--dry-run] [--repository ID] [--data DIR] [--config FILE] [--grace-seconds N] [--delete-untagged]`
 *
 * GC from the command line, on the backends the server's config names (compose.ts). On PostgreSQL it is
 * safe while replicas serve pushes (the database keeps the locks, gc/README.md). On the embedded SQLite
 * backend the locks live in the server process: stop the server first, or use
 * POST /api/repository/{id}/gc on the running server.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import { openBackends } from '../compose.js';
import { SQLITE_FILE } from '../metadata/sqlite/index.js';
import { UploadService } from '../registry/uploads.js';
import { createGcServices } from './index.js';
import { WHOLE_REGISTRY, type ScopeResolver } from './scope.js';
import { openRepositories } from '../repositories/store.js';

export const GC_USAGE = `Usage: nitro-registry gc [options]

Garbage-collects a registry: unreferenced manifests (by policy), blob links and blobs, blob files left
by crashes, and expired upload sessions, on the storage and database the config names. On PostgreSQL it
may run while the replicas serve; on the embedded SQLite database stop the server first, or call
POST /api/repository/{id}/gc on the running server instead.

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

Environment: NITRO_REGISTRY_CONFIG, NITRO_REGISTRY_DATA, NITRO_REGISTRY_DATABASE_URL, NITRO_REGISTRY_LOG_LEVEL.
Exit codes: 0 done, 1 failed, 2 usage or configuration error.
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
  if (!config.database.url && !existsSync(join(config.dataDir, SQLITE_FILE))) {
    throw new ConfigError(`${config.dataDir} is not a registry data directory (no ${SQLITE_FILE})`);
  }
  const backends = await openBackends(config);
  const { blobs } = backends;
  const meta = backends.metadata.registry;
  let repositories: Awaited<ReturnType<typeof openRepositories>> | null = null;
  let services: ReturnType<typeof createGcServices> | null = null;
  try {
    let resolveScope = opts.resolveScope;
    if (!resolveScope) {
      const repos = (repositories = await openRepositories(backends.metadata.repositories, config.repositories));
      resolveScope = (id) => {
        const repo = repos.get(id);
        return repo ? { id: repo.id, name: repo.name, owns: (image: string) => repos.owns(repo, image) } : null;
      };
    }
    const scope = values.repository === undefined ? WHOLE_REGISTRY : resolveScope(values.repository);
    if (!scope) throw new ConfigError(`no repository with id ${JSON.stringify(values.repository)}`);
    // The audit line goes to stderr as JSON; the report to stdout.
    const log = createLogger(process.env.NITRO_REGISTRY_LOG_LEVEL ?? 'info', process.stderr);
    services = createGcServices({ gcStore: backends.metadata.gc, meta, blobs, uploads: new UploadService(blobs, meta), config, log, schedule: false });
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
          `${report.uploads_purged} upload(s); ${report.bytes_freed} bytes; ${report.duration_ms} ms\n` +
          `  grace ${report.grace_seconds} s${report.delete_untagged_after_seconds !== null ? `, untagged manifests older than ${report.delete_untagged_after_seconds} s` : ''}; ` +
          `kept as too new: ${report.skipped_too_new.manifests} manifest(s), ${report.skipped_too_new.links} link(s), ${report.skipped_too_new.blobs} blob(s) (${report.skipped_too_new.bytes} bytes)\n`,
      );
      if (report.candidates) {
        for (const c of report.candidates) {
          process.stdout.write(`  would delete ${c.kind.padEnd(11)} ${c.repository ? `${c.repository}@` : ''}${c.digest}${c.size !== undefined ? ` (${c.size} bytes)` : ''}\n`);
        }
        if ((report.candidates_total ?? 0) > report.candidates.length) {
          process.stdout.write(`  … and ${report.candidates_total! - report.candidates.length} more (${report.candidates_total} in all)\n`);
        }
      }
    }
    return 0;
  } finally {
    await services?.close();
    repositories?.close();
    await backends.close();
  }
}
