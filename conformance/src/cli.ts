// `nitro-registry conformance`: argv → config → run → reports → exit code (see USAGE).
import { appendFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { ALL_CHECKS } from './checks/index.js';
import { selected } from './harness/runner.js';
import { progressLine, summaryText } from './report/human.js';
import { markdown } from './report/markdown.js';
import { writeReports } from './report/write.js';
import { runSuite } from './suite.js';

export const USAGE = `Usage: nitro-registry conformance --url URL [options]

Checks a registry against the OCI Distribution 1.1 / Docker Registry v2 conformance suite (plus token auth,
push rules and GC when the registry can be set up for them). Talks HTTP only; works with any registry.

Options:
  --url URL            registry base URL (env OCI_ROOT_URL). host[:port] alone means https://, or http:// on
                       loopback. Plain HTTP is allowed only to loopback (127.0.0.0/8, ::1, localhost), as Docker does.
  -c, --config FILE    YAML config: credentials, features, setup hooks, push rules, GC (env NITRO_CONFORMANCE_CONFIG)
  --only LIST          areas, check ids or id prefixes, comma-separated (env NITRO_ONLY). Areas: api, pull-push,
                       discovery, content, shapes, auth, rules, gc
  --level LEVEL        must | should | may: failures at this level or stronger fail the run (env NITRO_LEVEL;
                       default must). Every check and assertion carries the RFC 2119 level of its requirement.
  --report-dir DIR     write conformance.json, junit.xml, conformance.md, conformance.html, conformance.tap
                       (env OCI_REPORT_DIR)
  --ca-cert FILE       trust this PEM CA certificate too (env NITRO_CA_CERT); NODE_EXTRA_CA_CERTS=FILE also works
  --insecure           allow plain HTTP to a non-loopback registry and TLS certificates that do not verify
                       (env NITRO_INSECURE=1)
  --list               print every check: id, area, level, title
  -h, --help           show this help

Credentials: OCI_USERNAME + OCI_PASSWORD, else credentials: in the config file, else what \`docker login\` stored
for the host in $DOCKER_CONFIG/config.json (an identitytoken is used as an OAuth2 refresh token; credential
helpers are asked; NITRO_DOCKER_CONFIG=0 turns this off). Never pass secrets in argv.

Other environment variables: OCI_NAMESPACE, OCI_CROSSMOUNT_NAMESPACE, OCI_DEBUG, OCI_HIDE_SKIPPED_WORKFLOWS,
OCI_DELETE_MANIFEST_BEFORE_BLOBS, OCI_TEST_PULL/PUSH/CONTENT_DISCOVERY/CONTENT_MANAGEMENT, OCI_AUTOMATIC_CROSSMOUNT,
NITRO_EXPECT_<FEATURE> (REFERRERS, DELETES, DELETE_BY_TAG, MOUNT_WITHOUT_FROM, SHA512, CATALOG, MANIFEST_SIZE_LIMIT,
RANGE, TAG_PARAMS), NITRO_SETUP (auto|nitro-api|hooks|none), NITRO_GC_TRIGGER, NITRO_GC_COMMAND,
NITRO_GC_GRACE_SECONDS, NITRO_CONCURRENCY, NITRO_LARGE_LAYER_MIB, NITRO_REQUEST_TIMEOUT_MS, NITRO_CLEANUP.
See conformance/README.md.

Exit codes:
  0  no check failed at --level or stronger (weaker failures, unsupported features and skips are reported only)
  1  a check failed at --level or stronger, or a harness error (exception, timeout) happened
  2  usage or setup problem: bad flag or config, no URL, plain HTTP to a remote host, registry unreachable

The last stdout line is: conformance: N passed, N failed, N unsupported, N skipped`;

/** Write to stdout; a closed pipe (`| head`) ends the output quietly instead of crashing. */
function out(text: string): void {
  if (!process.stdout.writable) return;
  process.stdout.write(text);
}

let pipeGuard = false;
function guardPipe(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      process.stdout.destroy();
      return;
    }
    throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  guardPipe();
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        config: { type: 'string', short: 'c' },
        only: { type: 'string' },
        level: { type: 'string' },
        'report-dir': { type: 'string' },
        'ca-cert': { type: 'string' },
        insecure: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`nitro-registry conformance: ${(e as Error).message}\nRun 'nitro-registry conformance --help' for the options.\n`);
    return 2;
  }
  if (args.help) {
    out(USAGE + '\n');
    return 0;
  }
  if (args.list) {
    for (const c of ALL_CHECKS) out(`${c.id}\t${c.area}\t${c.level}\t${c.title}\n`);
    return 0;
  }
  let config;
  try {
    config = await loadConfig({
      configPath: args.config,
      url: args.url,
      only: args.only ? args.only.split(',') : undefined,
      reportDir: args['report-dir'],
      level: args.level,
      caCert: args['ca-cert'],
      insecure: args.insecure,
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`nitro-registry conformance: ${e.message}\n`);
    return 2;
  }
  const unknown = config.only.filter((f) => !ALL_CHECKS.some((c) => selected(c, [f])));
  if (unknown.length) {
    process.stderr.write(`nitro-registry conformance: --only ${unknown.join(',')} matches no area or check id (see --list)\n`);
    return 2;
  }
  let report;
  try {
    report = await runSuite(config, {
      onResult: (r) => {
        const line = progressLine(r, config.hideSkipped);
        if (line) out(line + '\n');
      },
    });
  } catch (e) {
    process.stderr.write(`nitro-registry conformance: cannot run against ${config.url}: ${(e as Error).message}\n`);
    return 2;
  }
  out(summaryText(report));
  if (config.reportDir) {
    const files = await writeReports(config.reportDir, report, config.hideSkipped);
    out(`reports: ${files.join(', ')}\n`);
  }
  if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, markdown(report, config.hideSkipped));
  const s = report.summary;
  const below = s.failed + s.error - report.failing;
  // The plain closing line CI log readers understand.
  out(`conformance: ${s.passed} passed, ${report.failing} failed${below ? ` (+${below} below --level ${report.level.toLowerCase()})` : ''}, ${s.unsupported} unsupported, ${s.skipped} skipped\n`);
  return report.failing > 0 ? 1 : 0;
}
