/**
 * `nitro-registry verify`: the Action's verification from a shell. Exit codes: 0 verified, 1 verification
 * failed (registry, auth and network errors included), 2 usage error. The password is read from stdin
 * only (never argv).
 */
import { parseArgs } from 'node:util';
import { parseList } from './lists.js';
import { parseImageRef } from './registry/image-ref.js';
import { renderSummary } from './summary.js';
import { DEFAULT_DEADLINE_MS, readCaCert } from './registry/transport.js';
import { runVerification, writeReport } from './verify/run-verification.js';

const USAGE = `Usage: nitro-registry verify --image REF [--image REF ...] [options]

Checks, through the registry's HTTP API, that every tag resolves to the pushed digest, that the index lists
every requested platform, and that every config and layer blob exists with its declared size.

  --image REF          image reference with tag (host/repo:tag); repeatable
  --digest DIGEST      the digest that was pushed (default: what the first tag resolves to)
  --platforms LIST     comma-separated platforms the index must list (linux/amd64,linux/arm64)
  --username NAME      user for the registry (password from stdin with --password-stdin)
  --password-stdin     read the password from standard input
  --insecure           talk plain HTTP (loopback registries may answer in plain HTTP without it)
  --ca-cert FILE       trust this PEM CA certificate too (a registry with a private CA)
  --timeout SECONDS    overall deadline for all registry requests (default ${DEFAULT_DEADLINE_MS / 1000}; 0: none)
  --pull               download every blob and check its digest
  --repair             re-point a tag left on a platform manifest at the expected index
  --report FILE        write the JSON report to FILE
  -h, --help           this text

Credentials: --username with --password-stdin, else what \`docker login\` stored in $DOCKER_CONFIG/config.json
(~/.docker): auth entries, credential helpers, and identity tokens (OAuth2 refresh tokens).

Environment:
  DOCKER_CONFIG        directory of the Docker config.json with stored credentials (default ~/.docker)
  NODE_EXTRA_CA_CERTS  PEM file of extra CA certificates, trusted like --ca-cert

Exit codes: 0 verified; 1 verification failed (a registry, auth, TLS or timeout error is a failure too,
named in the summary); 2 usage error (bad flags, unreadable --ca-cert).
`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        image: { type: 'string', multiple: true },
        digest: { type: 'string' },
        platforms: { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        insecure: { type: 'boolean' },
        'ca-cert': { type: 'string' },
        timeout: { type: 'string' },
        pull: { type: 'boolean' },
        repair: { type: 'boolean' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const images = values.image ?? [];
  if (images.length === 0) {
    process.stderr.write(`--image is required\n\n${USAGE}`);
    return 2;
  }
  if (values['password-stdin'] && !values.username) {
    process.stderr.write('--password-stdin needs --username\n');
    return 2;
  }
  try {
    const caCert = values['ca-cert'] === undefined ? undefined : readCaCert(values['ca-cert'], '--ca-cert');
    if (values.timeout !== undefined && !/^\d+$/.test(values.timeout)) throw new Error(`--timeout must be a whole number of seconds, got "${values.timeout}"`);
    const deadlineMs = values.timeout === undefined ? DEFAULT_DEADLINE_MS : Number(values.timeout) * 1000;
    const password = values['password-stdin'] ? (await readStdin()).replace(/\r?\n$/, '') : undefined;
    const report = await runVerification(
      {
        images,
        expectedDigest: values.digest,
        platforms: parseList(values.platforms ?? ''),
        pull: values.pull ?? false,
        repair: values.repair ?? false,
      },
      {
        registry: parseImageRef(images[0]).host,
        credentials: values.username && password !== undefined ? { username: values.username, password } : undefined,
        insecure: values.insecure ?? false,
        caCert,
        deadlineMs,
        log: (m) => process.stderr.write(`${m}\n`),
      },
    );
    if (values.report) writeReport(values.report, report);
    process.stdout.write(`${renderSummary(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`verify: ${(err as Error).message}\n`);
    return 2;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
