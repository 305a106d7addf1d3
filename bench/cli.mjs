// `nitro-registry bench --url URL [--compare URL2]`: the bench operations (big push/pull, small blobs, manifests,
// tags, catalog) against any registry, with the conformance suite's auth (OCI_USERNAME/OCI_PASSWORD, the Docker
// config incl. identitytoken, --ca-cert, --insecure), printing throughput and latency percentiles side by side and
// writing bench.json / bench.md. Reuses bench/lib (fixtures, operations, http client, report) as bench/run.mjs does;
// unlike run.mjs it cannot read a remote server's CPU, so the table shows throughput and latency only.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from './lib/http-client.mjs';
import { OPERATIONS, makeFixtures, setupTarget, useNamespace } from './lib/operations.mjs';
import { PROFILES } from './lib/profiles.mjs';
import { consoleTable, markdown, percentile, summarise, throughput } from './lib/report.mjs';

const MiB = 1 << 20;

export const USAGE = `Usage: nitro-registry bench --url URL [--compare URL2] [options]

Measures a registry (and, with --compare, a second one in the same run, alternating) with the bench operations:
monolithic and chunked big-blob push, big-blob GET, small-blob GET/HEAD at concurrency 64, manifest GET and PUT,
a full tags listing and a full catalog listing. Prints a table of throughput medians, the ratio B/A, and latency
percentiles (time to response headers); writes bench.json and bench.md to --report-dir.

Options:
  --url URL           registry A (the baseline of the ratios)
  --compare URL       registry B
  --rounds N          rounds per operation (default 2)
  --big-mib N         size of the big blobs (default 32)
  --tags N            tags in the listed repository (default 200)
  --repos N           repositories created for the catalog listing (default 50)
  --loop-ms MS        time bound of each request loop (default 700)
  --ops a,b           only these operations (${OPERATIONS.map((o) => o.name).join(', ')})
  --namespace NS      repositories go under NS/<run id>/ (default nitro-bench)
  --report-dir DIR    where bench.json and bench.md go (default .)
  --ca-cert FILE      trust this PEM CA certificate too (NODE_EXTRA_CA_CERTS also works)
  --insecure          allow plain HTTP to non-loopback hosts and TLS certificates that do not verify
  -h, --help          show this help

Credentials: for --url as for \`nitro-registry conformance\` (OCI_USERNAME/OCI_PASSWORD, else what \`docker login\`
stored, identitytoken included); for --compare NITRO_COMPARE_USERNAME/NITRO_COMPARE_PASSWORD, else the Docker config.
The run pushes fixtures (big blobs, tags, repositories) and leaves them under NS/<run id>/: delete that namespace
(or run GC) afterwards. Exit codes: 0 done (operation errors are shown in the table), 2 usage or setup problem.`;

/** A bench client that authenticates like the conformance suite and records time-to-headers per operation. */
async function authedClient(origin, config, suite) {
  const { AuthSession } = await import(suite('http/auth.js'));
  const { HttpClient } = await import(suite('http/client.js'));
  const { makeTransport } = await import(suite('http/transport.js'));
  const transport = await makeTransport(config);
  const session = new AuthSession(config.credentials);
  const http = new HttpClient({ baseUrl: origin, session, transcript: [], timeoutMs: 120_000, transport });
  const probe = await http.request('GET', '/v2/', { auth: 'none' });
  if (probe.status === 401) session.learn(probe.headers.get('www-authenticate'));
  const base = await createClient(origin, { tls: transport?.tls });
  const samples = new Map();
  let op = 'setup';
  const authFor = async (method, path) => {
    const url = new URL(path, origin);
    const from = url.searchParams.get('from');
    return http.authorizationFor(method, url, from ? [`repository:${from}:pull`] : []);
  };
  return {
    kind: base.kind,
    samples,
    setOp: (name) => (op = name),
    async request(opts) {
      const headers = { ...(opts.headers ?? {}) };
      const a = await authFor(opts.method, opts.path);
      if (a) headers.authorization = a;
      const t0 = performance.now();
      const res = await base.request({ ...opts, headers });
      const list = samples.get(op) ?? [];
      list.push(performance.now() - t0);
      samples.set(op, list);
      return res;
    },
    discard: (body) => base.discard(body),
    close: () => base.close(),
  };
}

export async function main(argv) {
  let opts;
  try {
    opts = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        compare: { type: 'string' },
        rounds: { type: 'string', default: '2' },
        'big-mib': { type: 'string', default: '32' },
        tags: { type: 'string', default: '200' },
        repos: { type: 'string', default: '50' },
        'loop-ms': { type: 'string', default: '700' },
        ops: { type: 'string' },
        namespace: { type: 'string', default: 'nitro-bench' },
        'report-dir': { type: 'string', default: '.' },
        'ca-cert': { type: 'string' },
        insecure: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`nitro-registry bench: ${e.message}\nRun 'nitro-registry bench --help' for the options.\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!opts.url) {
    process.stderr.write('nitro-registry bench: --url is required\n');
    return 2;
  }
  const nums = ['rounds', 'big-mib', 'tags', 'repos', 'loop-ms'].map((k) => [k, Number(opts[k])]);
  const bad = nums.find(([, v]) => !Number.isInteger(v) || v < 1);
  if (bad) {
    process.stderr.write(`nitro-registry bench: --${bad[0]} must be a positive integer\n`);
    return 2;
  }
  const n = Object.fromEntries(nums);
  const operations = opts.ops ? OPERATIONS.filter((o) => opts.ops.split(',').includes(o.name)) : OPERATIONS;
  if (operations.length === 0) {
    process.stderr.write(`nitro-registry bench: --ops matches nothing (${OPERATIONS.map((o) => o.name).join(', ')})\n`);
    return 2;
  }
  const cfg = { ...PROFILES.quick, rounds: n.rounds, bigSize: n['big-mib'] * MiB, chunkSize: Math.max(MiB, Math.min(8 * MiB, (n['big-mib'] * MiB) >> 2)), tagCount: n.tags, repoCount: n.repos, loopMs: n['loop-ms'] };
  const suite = (p) => new URL(`../build/conformance/src/${p}`, import.meta.url).href;
  const { loadConfig, ConfigError } = await import(suite('config.js'));
  const log = (m) => process.stderr.write(m + '\n');

  const targets = [];
  try {
    for (const [i, url] of [opts.url, opts.compare].filter(Boolean).entries()) {
      const env = i === 0 ? process.env : { ...process.env, OCI_USERNAME: process.env.NITRO_COMPARE_USERNAME, OCI_PASSWORD: process.env.NITRO_COMPARE_PASSWORD };
      const config = await loadConfig({ url, caCert: opts['ca-cert'], insecure: opts.insecure, env });
      const client = await authedClient(config.url, config, suite);
      targets.push({ name: i === 0 ? 'A' : 'B', url: config.url, client, credentials: config.credentialSource });
    }
  } catch (e) {
    if (e instanceof ConfigError || e.name === 'ConfigError' || /fetch failed|ECONNREFUSED/.test(String(e.message))) {
      process.stderr.write(`nitro-registry bench: ${e.message}\n`);
      for (const t of targets) await t.client.close().catch(() => {});
      return 2;
    }
    throw e;
  }

  const runId = randomBytes(3).toString('hex');
  useNamespace(`${opts.namespace}/${runId}`);
  const startedAt = new Date().toISOString();
  log(`bench ${runId}: ${targets.map((t) => `${t.name} = ${t.url}`).join(', ')}; ${cfg.rounds} round(s), ${cfg.bigSize / MiB} MiB blobs, ${cfg.tagCount} tags, ${cfg.repoCount} repositories`);
  const fx = makeFixtures(cfg);
  for (const t of targets) {
    t.client.setOp('setup');
    try {
      const s = await setupTarget(t.client, fx, cfg, (m) => log(`${t.name} ${m.trim()}`));
      t.pushMode = s.pushMode;
      t.setup = s.steps;
    } catch (e) {
      t.setupError = String(e.message ?? e).slice(0, 300);
      t.pushMode ??= 'post-put';
      log(`${t.name} setup failed: ${t.setupError}`);
    }
  }
  const ops = operations.map((op) => ({ name: op.name, unit: op.unit, description: op.describe(cfg), perTarget: Object.fromEntries(targets.map((t) => [t.name, { rounds: [] }])) }));
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const [i, op] of operations.entries()) {
      for (const t of order) {
        t.client.setOp(op.name);
        const t0 = performance.now();
        try {
          const r = await op.run({ client: t.client, fx, cfg, round, pushMode: t.pushMode });
          const m = { round, count: r.count, bytes: r.bytes, wallMs: Math.round(performance.now() - t0), cpuMsPerOp: NaN };
          m.throughput = throughput(op.unit, m);
          ops[i].perTarget[t.name].rounds.push(m);
          log(`  ${op.name.padEnd(22)} ${t.name} ${m.throughput.toFixed(1).padStart(9)} ${op.unit} (n=${m.count})`);
        } catch (e) {
          ops[i].perTarget[t.name].rounds.push({ round, error: String(e.message ?? e).slice(0, 300) });
          log(`  ${op.name.padEnd(22)} ${t.name} ERROR ${String(e.message ?? e).slice(0, 200)}`);
        }
      }
    }
  }
  for (const op of ops) {
    for (const t of targets) {
      const s = t.client.samples.get(op.name) ?? [];
      if (s.length) op.perTarget[t.name].latency = { count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99) };
    }
  }
  const results = summarise({
    startedAt,
    finishedAt: new Date().toISOString(),
    profile: 'cli',
    runId,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, client: targets[0]?.client.kind ?? 'unknown' },
    config: { ...cfg, roundsDone: cfg.rounds },
    targets: targets.map((t) => ({ name: t.name, kind: t.url, url: t.url, credentials: t.credentials, pushMode: t.pushMode, setup: t.setup, setupError: t.setupError })),
    ops,
  });
  for (const t of targets) await t.client.close().catch(() => {});
  process.stdout.write(consoleTable(results) + '\n');
  await mkdir(opts['report-dir'], { recursive: true });
  const json = join(opts['report-dir'], 'bench.json');
  const md = join(opts['report-dir'], 'bench.md');
  await writeFile(json, JSON.stringify(results, null, 2) + '\n');
  await writeFile(md, markdown(results));
  process.stdout.write(`reports: ${json}, ${md}\nbench: ${targets.length} registr${targets.length === 1 ? 'y' : 'ies'}, ${ops.length} operations, data left under ${opts.namespace}/${runId}/\n`);
  return 0;
}
