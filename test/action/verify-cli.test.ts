// `nitro-registry verify` (src/verify-cli.ts main): exit codes, password from stdin only, JSON report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { distributionAvailable, startDistribution } from './helpers/distribution.js';
import { buildOciLayout, skopeoPush } from './helpers/oci-layout.js';

// Many child processes (node, skopeo, docker): allow more than .taprc's 180 s on a busy machine.
t.setTimeout(600_000);
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs main(argv) in a child process (it reads stdin and writes stdout/stderr). */
function runCli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import { main } from ${JSON.stringify(join(root, 'src/verify-cli.ts'))}; process.exitCode = await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', join(root, 'node_modules/@tapjs/typescript/dist/esm/import.mjs'), '--input-type=module', '-e', script, '--', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // The CLI reads stdin only with --password-stdin; otherwise it may exit before we finish writing.
  child.stdin.on('error', () => {});
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

t.test('usage errors exit 2', async (t) => {
  const none = await runCli([]);
  t.equal(none.code, 2);
  t.match(none.stderr, /--image is required/);
  const unknown = await runCli(['--image', 'a/b:1', '--password', 'x']);
  t.equal(unknown.code, 2, 'a password flag does not exist: it would put the secret in argv');
  const help = await runCli(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--password-stdin/);
});

t.test('verifies against Distribution; exit 0 when good, 1 when a platform is missing', { skip: distributionAvailable() ? false : 'CNCF Distribution is not installed' }, async (t) => {
  const registry = await startDistribution();
  t.teardown(() => registry.stop());
  const layout = buildOciLayout(['linux/amd64', 'linux/arm64']);
  const dir = mkdtempSync(join(tmpdir(), 'nitro-cli-'));
  t.teardown(() => {
    rmSync(layout.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  skopeoPush(layout, `${registry.host}/cli/app:v1`);
  const reportFile = join(dir, 'report.json');
  const good = await runCli(['--image', `${registry.host}/cli/app:v1`, '--digest', layout.indexDigest, '--platforms', 'linux/amd64,linux/arm64', '--insecure', '--pull', '--report', reportFile]);
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, /Image verification: ✅ verified/);
  t.equal(JSON.parse(readFileSync(reportFile, 'utf8')).ok, true);
  const bad = await runCli(['--image', `${registry.host}/cli/app:v1`, '--platforms', 'linux/riscv64', '--insecure', '--username', 'u', '--password-stdin'], 'pw\n');
  t.equal(bad.code, 1);
  t.match(bad.stdout, /PLATFORM_MISSING/);
});
