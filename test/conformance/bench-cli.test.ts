// `nitro-registry bench --url A --compare B` end to end against the reference server (token auth, credentials from
// the environment) and CNCF Distribution 2.8, with tiny sizes: every operation measured on both, the table and the
// JSON/Markdown reports written. No timing is asserted (speed is reported, never tested).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { distributionAvailable, startDistribution } from './distribution.js';
import { referenceServerBuilt, startReferenceServer } from './reference-server.js';

const BIN = fileURLToPath(new URL('../../bin/nitro-registry.js', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'bench', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

t.test('bench usage errors exit 2 with one line', async (t) => {
  const r = await run([], {});
  t.equal(r.code, 2);
  t.match(r.err, /--url is required/);
  const h = await run(['--help'], {});
  t.equal(h.code, 0);
  t.match(h.out, /--compare URL/);
  t.match(h.out, /Exit codes/);
});

if (!referenceServerBuilt() || !distributionAvailable()) {
  t.test('bench against the reference server and Distribution', { skip: 'needs the built reference server and /usr/bin/docker-registry' }, async () => {});
} else {
  t.test('bench --url reference --compare distribution measures every operation on both', async (t) => {
    const ref = await startReferenceServer();
    t.teardown(() => ref.stop());
    const dist = await startDistribution();
    t.teardown(() => dist.stop());
    const dir = await mkdtemp(join(tmpdir(), 'nitro-bench-cli-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const r = await run(
      ['--url', ref.url, '--compare', dist.url, '--rounds', '1', '--big-mib', '2', '--tags', '12', '--repos', '4', '--loop-ms', '100', '--report-dir', dir],
      { OCI_USERNAME: ref.admin.username, OCI_PASSWORD: ref.admin.password, NITRO_DOCKER_CONFIG: '0' },
    );
    t.equal(r.code, 0, 'exit 0', { stderr: r.err.slice(-2000) });
    const json = JSON.parse(await readFile(join(dir, 'bench.json'), 'utf8'));
    t.same(json.targets.map((x: { url: string }) => x.url), [ref.url, dist.url]);
    // Every operation of bench/'s table (the CLI reuses it rather than keeping its own list).
    const opsModule = new URL('../../bench/lib/operations.mjs', import.meta.url).href; // plain ESM, untyped
    const { OPERATIONS } = (await import(opsModule)) as { OPERATIONS: { name: string }[] };
    t.same(
      json.ops.map((o: { name: string }) => o.name),
      OPERATIONS.map((o) => o.name),
      'every bench operation, in order',
    );
    for (const op of json.ops) {
      for (const name of ['A', 'B']) {
        const pt = op.perTarget[name];
        t.same(pt.errors, [], `${op.name} on ${name}: no error`);
        t.ok(pt.median.throughput > 0, `${op.name} on ${name}: a throughput`, { got: pt.median.throughput });
        t.ok(pt.latency?.count > 0 && pt.latency.p50 <= pt.latency.p99, `${op.name} on ${name}: latency percentiles`, { got: pt.latency });
      }
    }
    t.match(r.out, /blob-push-monolithic\s+MiB\/s/, 'the table is printed');
    t.match(await readFile(join(dir, 'bench.md'), 'utf8'), /\| tags-list \| lists\/s \|/);
    t.notMatch(r.out + r.err, ref.admin.password, 'no password in the output');
  });
}
