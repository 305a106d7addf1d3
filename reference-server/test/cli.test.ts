/**
 * The `nitro-registry` command as a user meets it, spawned for real (bin/nitro-registry.js over build/):
 * --version; every subcommand's --help lists options, environment variables and exit codes; output into
 * a closed pipe ends quietly (exit 141, no EPIPE stack); every bad setting or environment problem of
 * `serve` is one stderr line naming the setting, with its documented exit code (2 usage/config, 3
 * environment), and the process ends by itself (no hang, no stack trace).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t, { type Test } from 'tap';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/nitro-registry.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI; `pipeHead` closes the reading end of stdout at once, like a `| head` that is gone before the
 * command writes (closing it after the first chunk races: a short output fits the pipe in one write and
 * never meets EPIPE). Killed after `limitMs` (a hang).
 */
function run(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; pipeHead?: boolean; limitMs?: number } = {}): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NITRO_REGISTRY_CONFIG: '', NITRO_REGISTRY_ADMIN_PASSWORD: '', ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (opts.pipeHead) child.stdout.destroy(); // Node takes far longer to start than this line
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // Generous: a loaded CI machine may take seconds to start Node; this only catches a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const noStack = (s: string) => !/\n\s+at /.test(s) && !/Error:|RangeError|\[ERR_/.test(s);

t.test('every way the server is launched passes the same node flags (bin, npm start, image, bench)', async (t) => {
  const [line1, line2] = readFileSync(BIN, 'utf8').split('\n');
  t.equal(line1, '#!/bin/sh', 'a sh/JavaScript polyglot (no env -S: BusyBox lacks it)');
  const m = /^":" \/\/; exec node((?: --[a-z-]+(?:=\S+)?)*) "\$0" "\$@"$/.exec(line2 ?? '');
  t.ok(m, `line 2 execs node with the flags: ${line2}`);
  const flags = (m?.[1] ?? '').trim().split(' ').filter(Boolean);
  t.ok(flags.includes('--initial-old-space-size=64'), 'the old-space flag (bin/nitro-registry.js says why)');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.equal(pkg.scripts.start, `node ${flags.join(' ')} bin/nitro-registry.js serve`, 'npm start');
  const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  t.same(JSON.parse(entrypoint ?? 'null'), ['node', ...flags, '/app/bin/nitro-registry.js'], 'the image ENTRYPOINT');
  const bench = (await import(join(ROOT, 'bench/lib/servers.mjs'))) as { NITRO_NODE_FLAGS: string[] };
  t.same(bench.NITRO_NODE_FLAGS, flags, 'bench/ starts the server the same way');

  // Executed as a program (as npx and a global install do): sh execs node in the same process (so a
  // supervisor's PID and signals reach the server), with the flags on node's command line.
  const data = mkdtempSync(join(tmpdir(), 'nitro-cli-exec-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => done(p));
    });
  });
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', data, '--no-auth', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  let ready = false;
  for (let i = 0; i < 400 && !ready && child.exitCode === null; i++) {
    ready = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (!ready) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(ready, 'the server answers /v2/');
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  t.match(cmdline[0] ?? '', /(^|\/)node$/, `the spawned PID is node (${cmdline.join(' ')})`);
  for (const f of flags) t.ok(cmdline.includes(f), `node runs with ${f}`);
  child.kill('SIGTERM');
  t.equal(await exited, 0, `SIGTERM to that PID stops the server cleanly ${stderr}`);
});

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await run(['--version']);
  t.equal(r.code, 0);
  t.match(r.stdout, new RegExp(`^nitro-registry ${pkg.version.replace(/\./g, '\\.')} `));
  t.match((await run(['--help'])).stdout, /--version[\s\S]*Exit codes[\s\S]*141/, 'the top-level help lists --version and the exit codes');
});

t.test('every subcommand --help lists options, environment variables and exit codes', async (t) => {
  for (const cmd of ['serve', 'gc', 'user', 'token', 'keys', 'conformance', 'verify', 'bench']) {
    const r = await run([cmd, '--help']);
    t.equal(r.code, 0, `${cmd} --help exits 0`);
    t.match(r.stdout, /--[a-z]/, `${cmd}: options`);
    t.match(r.stdout, /[Ee]nvironment|env [A-Z_]+|NITRO_|OCI_|DOCKER_CONFIG/, `${cmd}: environment variables`);
    t.match(r.stdout, /Exit codes/, `${cmd}: exit codes`);
  }
  const serve = (await run(['serve', '--help'])).stdout;
  for (const v of ['NITRO_REGISTRY_ADMIN_PASSWORD', 'NITRO_REGISTRY_DATABASE_URL', 'NITRO_REGISTRY_EXTERNAL_URL', 'NITRO_REGISTRY_STORAGE_DRIVER']) t.match(serve, v);
  t.match(serve, /\n\s+3\s+environment problem/);
});

t.test('a closed stdout (| head) ends quietly with 141, no EPIPE stack trace', async (t) => {
  // conformance --list prints ~100 lines; the reader goes away after the first chunk.
  const r = await run(['conformance', '--list'], { pipeHead: true });
  t.equal(r.code, 141);
  t.notMatch(r.stderr, /EPIPE|at /, 'nothing on stderr about it');
});

async function busyPort(t: Test): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

t.test('serve: each bad setting or environment problem is one line naming it, with its exit code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-cli-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const data = join(dir, 'data');
  const port = await busyPort(t);
  const blocker = file('not-a-dir', 'x');
  const cases: [string, string[], NodeJS.ProcessEnv, number, RegExp][] = [
    ['config file syntax', ['--config', file('bad.yaml', 'listen: [oops\n')], {}, 2, /config file .*bad\.yaml is not valid YAML\/JSON: .*line 2/],
    ['config file unknown key', ['--config', file('unknown.yaml', 'lisen: 127.0.0.1:5000\n')], {}, 2, /unknown\.yaml: lisen: unknown setting/],
    ['config file unknown auth key', ['--config', file('auth.yaml', 'auth: {enabeld: true}\n')], {}, 2, /auth\.enabeld: unknown setting/],
    ['unknown flag', ['--bogus'], {}, 2, /Unknown option '--bogus'/],
    ['bad environment variable', [], { NITRO_REGISTRY_LISTEN: 'nope' }, 2, /NITRO_REGISTRY_LISTEN must be HOST:PORT/],
    ['bad boolean in the environment', [], { NITRO_REGISTRY_AUTH: 'maybe' }, 2, /NITRO_REGISTRY_AUTH must be true or false/],
    ['admin password shorter than 8', [], { NITRO_REGISTRY_ADMIN_PASSWORD: 'short' }, 2, /NITRO_REGISTRY_ADMIN_PASSWORD must be 8 to 1024 characters/],
    ['admin password in the config file', ['--config', file('pw.yaml', 'auth: {admin_password: "1234567"}\n')], {}, 2, /auth\.admin_password must be 8/],
    ['port above 65535', ['--listen', '127.0.0.1:70000'], {}, 2, /--listen: port 70000 is above 65535/],
    ['port in use', ['--listen', `127.0.0.1:${port}`], {}, 3, new RegExp(`listen 127\\.0\\.0\\.1:${port}: the address is already in use`)],
    ['missing TLS file', ['--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'nope.key')], {}, 3, /tls\.cert \(--tls-cert\) .*nope\.pem: no such file or directory/],
    ['TLS file that is not PEM', ['--tls-cert', blocker, '--tls-key', blocker], {}, 3, /not a usable PEM certificate and private key/],
    ['data directory that cannot be created', ['--data', join(blocker, 'sub', 'dir')], {}, 3, /data \(--data, NITRO_REGISTRY_DATA\) .*not-a-dir\/sub\/dir: cannot be created or written: a component of the path is not a directory/],
  ];
  for (const [what, args, env, code, message] of cases) {
    const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
    const dataArg = args.includes('--data') ? [] : ['--data', data];
    const r = await run(['serve', ...listen, ...dataArg, ...args], { env });
    t.equal(r.code, code, `${what}: exit code ${code}`);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, `${what}: one line`);
    t.match(lines[0], /^nitro-registry serve: /, `${what}: names the command`);
    t.match(lines[0], message, `${what}: names the setting and the problem`);
    t.ok(noStack(r.stderr), `${what}: no stack trace`);
    t.equal(r.stdout, '', `${what}: nothing on stdout`);
  }
});
