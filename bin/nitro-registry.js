#!/bin/sh
":" //; exec node --initial-old-space-size=64 "$0" "$@"
// The `nitro-registry` command: a thin dispatcher to each part's compiled CLI (npm run build → build/).
// Each subcommand's module is loaded only when used, so the conformance suite never loads server code.
//
// Lines 1–2 are a sh/JavaScript polyglot: run as a program (npx, a global install, ./bin/…), sh execs node
// with the flag below (same PID); node itself reads line 2 as a string and a comment. Not `env -S`, which
// BusyBox's env (Alpine images) lacks.
//
// --initial-old-space-size=64 (here, in package.json's start script, the image's ENTRYPOINT and bench/):
// without it V8 starts with an old-generation limit just above the server's ~11 MB live heap. Before
// request-body chunks were freed as soon as they are stored (reference-server/src/storage/body-chunks.ts)
// that meant a full mark-compact every ~20 MB of request body, ~40 % of a push's CPU; now the flag is
// worth 0–14 % (bench/README.md, "third pass"), and it stays because it costs nothing: a threshold, not
// memory. Node takes the flag only on its command line (not from NODE_OPTIONS, not at run time).
// Started as `node bin/nitro-registry.js` without it, everything works.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');

// Exit codes (reference-server/src/setup-error.ts holds the same table for the server's modules).
const EXIT_USAGE = 2;
const EXIT_PIPE_CLOSED = 141;

// `nitro-registry … | head`: the reader went away. Stop quietly, with the code a shell reports for a
// process ended by SIGPIPE (128 + 13), instead of an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(EXIT_PIPE_CLOSED);
    throw err;
  });
}

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
  return `Usage: nitro-registry <command> [options]
       nitro-registry --version | --help

Commands:
${lines.join('\n')}

Run 'nitro-registry <command> --help' for a command's options, environment variables and exit codes.

Exit codes shared by every command:
  0    done
  1    the command ran and failed (or an internal error, printed with its stack)
  2    usage or configuration error: unknown command or flag, config file syntax or key, bad value
  3    environment problem: port in use, TLS file missing, data directory cannot be created (serve, gc, user, token, keys)
  141  stdout was closed by its reader (e.g. '| head'); the command stopped quietly
Errors of kinds 2 and 3 are one line on stderr naming the setting and what is wrong.
`;
}

function version() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return `nitro-registry ${pkg.version} (node ${process.versions.node})\n`;
}

const [command, ...args] = process.argv.slice(2);
if (command === '--version' || command === '-V' || command === 'version') {
  process.stdout.write(version());
  process.exit(0);
}
if (!command || command === '-h' || command === '--help') {
  process.stdout.write(usage());
  process.exit(command ? 0 : EXIT_USAGE);
}
const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
if (!entry) {
  process.stderr.write(`nitro-registry: unknown command '${command}'\n\n${usage()}`);
  process.exit(EXIT_USAGE);
}
const file = join(build, entry[0]);
if (!existsSync(file)) {
  // Two reasons: a checkout that was not built, or the slim server image, which has only the
  // server's commands (the `full` image adds conformance and verify).
  process.stderr.write(
    `nitro-registry: '${command}' is not available here (${file} is missing): in a checkout run 'npm run build'; ` +
      `in a container use the full image (tag suffix -full), the default image has only the server's commands\n`,
  );
  process.exit(EXIT_USAGE);
}
try {
  const mod = await import(pathToFileURL(file).href);
  const code = await mod[entry[1]](args);
  process.exitCode = typeof code === 'number' ? code : 0;
} catch (err) {
  // A bad setting or environment problem (errors that carry their exit code, and parseArgs' usage errors):
  // one line naming it. Anything else is a bug: its stack helps whoever reports it.
  const parseArgs = typeof err?.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS');
  const known = err && (typeof err.exitCode === 'number' || parseArgs);
  const line = known ? String(err.message).split('\n')[0] : err?.stack ?? err;
  process.stderr.write(`nitro-registry ${command}: ${line}\n`);
  process.exitCode = known ? (parseArgs ? EXIT_USAGE : err.exitCode) : 1;
}
