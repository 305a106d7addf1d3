#!/usr/bin/env node
// The `nitro-registry` command: a thin dispatcher to each part's compiled CLI (npm run build → build/).
// Each subcommand's module is loaded only when used, so the conformance suite never loads server code.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');

const COMMANDS = {
  serve: ['reference-server/src/cli.js', 'serveCommand', 'run the reference registry server'],
  gc: ['reference-server/src/gc/cli.js', 'gcCommand', 'run garbage collection on a data directory'],
  user: ['reference-server/src/auth/cli.js', 'userCommand', 'add, change or remove users (user add|passwd|rm)'],
  token: ['reference-server/src/auth/cli.js', 'tokenCommand', 'create or revoke access tokens (token create|revoke)'],
  keys: ['reference-server/src/auth/keys-cli.js', 'keysCommand', 'list, rotate or retire token signing keys'],
  migrate: ['reference-server/src/metadata/migrate-cli.js', 'migrateCommand', 'apply database migrations; copy a SQLite registry into PostgreSQL'],
  'migrate-blobs': ['reference-server/src/storage/migrate-cli.js', 'migrateBlobsCommand', 'copy the blobs of a filesystem registry to S3 (--to-s3)'],
  conformance: ['conformance/src/cli.js', 'main', 'check a registry against the conformance suite'],
  verify: ['src/verify-cli.js', 'main', 'verify what a tag or digest points at in a registry'],
  // Plain ESM outside build/ (bench/lib is shared with bench/run.mjs): paths starting with ../ are from build/.
  bench: ['../bench/cli.mjs', 'main', 'measure a registry (or two side by side): throughput and latency'],
};

function usage() {
  const lines = Object.entries(COMMANDS)
    .filter(([, [file]]) => existsSync(join(build, file)))
    .map(([name, [, , help]]) => `  ${name.padEnd(12)} ${help}`);
  return `Usage: nitro-registry <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'nitro-registry <command> --help' for a command's options.\n`;
}

const [command, ...args] = process.argv.slice(2);
if (!command || command === '-h' || command === '--help') {
  process.stdout.write(usage());
  process.exit(command ? 0 : 2);
}
const entry = COMMANDS[command];
if (!entry) {
  process.stderr.write(`nitro-registry: unknown command '${command}'\n\n${usage()}`);
  process.exit(2);
}
const file = join(build, entry[0]);
if (!existsSync(file)) {
  // Two reasons: a checkout that was not built, or the slim server image, which has only the
  // server's commands (the `full` image adds conformance and verify).
  process.stderr.write(
    `nitro-registry: '${command}' is not available here (${file} is missing): in a checkout run 'npm run build'; ` +
      `in a container use the full image (tag suffix -full), the default image has only the server's commands\n`,
  );
  process.exit(2);
}
try {
  const mod = await import(pathToFileURL(file).href);
  const code = await mod[entry[1]](args);
  process.exitCode = typeof code === 'number' ? code : 0;
} catch (err) {
  const known = err && (err.name === 'ConfigError' || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code?.startsWith?.('ERR_PARSE_ARGS'));
  process.stderr.write(`nitro-registry ${command}: ${known ? err.message : err?.stack ?? err}\n`);
  process.exitCode = known ? 2 : 1;
}
