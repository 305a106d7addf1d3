// Starts and stops the registries under test: CNCF Distribution 2.8 (Debian's
// docker-registry) and the reference server (bin/nitro-registry.js), each on a random
// free loopback port with a fresh temp data dir. The spawned PID is the server process
// itself (no shell in between), so /proc/PID/stat measures the server and nothing else.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { openSync, closeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';
// A loaded 2-core machine can take more than 20 s to start the server: BENCH_START_TIMEOUT_MS raises it.
// The flags bin/nitro-registry.js starts node with. NITRO_NODE_FLAGS (space-separated, '' for none)
// replaces them, read at each start so that quick-compare can A/B a flag in one run:
// `--targets nitro,nitro+NITRO_NODE_FLAGS=` (bench/README.md, "third pass").
export const NITRO_NODE_FLAGS = ['--initial-old-space-size=64'];
const nitroNodeFlags = () => {
  const env = process.env.NITRO_NODE_FLAGS;
  return env === undefined ? NITRO_NODE_FLAGS : env.split(/\s+/).filter(Boolean);
};
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS) || 20_000;

/** A free TCP port on 127.0.0.1 (asks the kernel for port 0, then releases it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function distributionConfig(dataDir, port, s3) {
  // Debian's (and upstream's) default config minus auth: in-memory blob descriptor
  // cache, delete enabled; quiet logs so logging is not what we measure. With `s3`: its
  // s3aws driver on the bench's bucket, redirects as the run asks (Distribution's default is on).
  const storage = s3
    ? [
        '  s3:',
        `    accesskey: ${s3.accessKey}`,
        `    secretkey: ${s3.secretKey}`,
        `    region: ${s3.region}`,
        `    regionendpoint: ${s3.endpoint}`,
        `    bucket: ${s3.bucket}`,
        `    secure: ${s3.endpoint.startsWith('https:')}`,
        '    v4auth: true',
        '    rootdirectory: /registry',
        '  redirect:',
        `    disable: ${!s3.redirect}`,
      ]
    : ['  filesystem:', `    rootdirectory: ${dataDir}`];
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  cache:',
    '    blobdescriptor: inmemory',
    ...storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/**
 * A new, empty database on the PostgreSQL server of NITRO_TEST_DATABASE_URL (scripts/ci/setup-scaleout.sh),
 * for a nitro-pg target; left behind for inspection (databases are cheap; the server is a test one).
 */
async function freshDatabase(name) {
  const admin = process.env.NITRO_TEST_DATABASE_URL;
  if (!admin) throw new Error('nitro-pg needs NITRO_TEST_DATABASE_URL (scripts/ci/setup-scaleout.sh up DIR; source DIR/env)');
  const { default: pg } = await import('pg');
  const db = `bench_${name.replace(/[^a-z0-9]/gi, '_')}_${Date.now()}`.toLowerCase();
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${db}`);
  } finally {
    await c.end();
  }
  const url = new URL(admin);
  url.pathname = `/${db}`;
  return url.toString();
}

/** The reference server's config for S3 mode, as an object: written to a file (credentials never on argv) with the rest. */
function nitroS3Config(s3) {
  return {
    storage: {
      driver: 's3',
      s3: {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        region: s3.region,
        access_key_id: s3.accessKey,
        secret_access_key: s3.secretKey,
        force_path_style: true,
        redirect: Boolean(s3.redirect),
      },
    },
  };
}

/** Any HTTP answer on GET /v2/ (200 or 401) means the server is up. */
function probe(origin) {
  return new Promise((resolve) => {
    const req = http.get(`${origin}/v2/`, { agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function waitReady(target, child) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${target.name} exited during startup (code ${child.exitCode}, signal ${child.signalCode}): ${target.stderrTail()}`);
    }
    if (await probe(target.origin)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${target.name} not answering on ${target.origin}/v2/ after ${START_TIMEOUT_MS} ms: ${target.stderrTail()}`);
}

/**
 * Starts one registry. kind: 'distribution' | 'nitro' | 'nitro-pg' (metadata in PostgreSQL) | 'floor' (bare node:http big-blob server, floor-server.mjs). Returns a target:
 * { name, kind, origin, pid, dataDir, stop() }.
 */
export async function startTarget(kind, name, { repoRoot, nitroArgs = [], s3 = null }) {
  const workDir = await mkdtemp(join(tmpdir(), `nitro-bench-${kind}-`));
  const dataDir = join(workDir, 'data');
  const logPath = join(workDir, 'server.log');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let cmd;
  let args;
  if (kind === 'distribution') {
    const cfgPath = join(workDir, 'config.yml');
    await writeFile(cfgPath, distributionConfig(dataDir, port, s3), { mode: 0o600 });
    cmd = DISTRIBUTION_BIN;
    args = ['serve', cfgPath];
  } else if (kind === 'nitro' || kind === 'nitro-pg') {
    const bin = join(repoRoot, 'bin', 'nitro-registry.js');
    if (!existsSync(bin)) throw new Error(`${bin} does not exist yet`);
    cmd = process.execPath;
    // The node flags of the `nitro-registry` command's shebang (bin/nitro-registry.js says why): the bench
    // measures the server as `npx nitro-registry serve`, `npm start` and the image run it.
    args = [...nitroNodeFlags(), bin, 'serve', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn', '--no-auth', ...nitroArgs];
    // nitro-pg: the same server with its metadata in a fresh PostgreSQL database (one replica on PostgreSQL).
    const database = kind === 'nitro-pg' ? { url: await freshDatabase(name) } : null;
    if (s3 || database) {
      const cfgPath = join(workDir, 'config.json');
      await writeFile(cfgPath, JSON.stringify({ ...(s3 ? nitroS3Config(s3) : {}), ...(database ? { database } : {}) }), { mode: 0o600 });
      args.push('--config', cfgPath);
    }
  } else if (kind === 'floor') {
    cmd = process.execPath;
    args = [join(repoRoot, 'bench', 'lib', 'floor-server.mjs'), '--listen', `127.0.0.1:${port}`, '--data', dataDir];
  } else {
    throw new Error(`unknown target kind ${kind} (expected distribution, nitro, nitro-pg or floor)`);
  }
  // Logs go to a file: a pipe nobody reads would eventually block the server.
  const logFd = openSync(logPath, 'a');
  // AWS_CA_BUNDLE (exported on the CI machines) makes Distribution's Go AWS SDK panic at start.
  const env = { ...process.env };
  if (kind === 'distribution') delete env.AWS_CA_BUNDLE;
  const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', logFd, 'pipe'] });
  closeSync(logFd);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    stderr = (stderr + s).slice(-4000);
  });
  const target = {
    name,
    kind,
    origin,
    pid: child.pid,
    workDir,
    dataDir,
    logPath,
    command: [cmd, ...args].join(' '),
    stderrTail: () => stderr.trim().slice(-1500),
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop({ keep = false } = {}) {
      if (target.alive()) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => target.alive() && child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!keep) await rm(workDir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(target, child);
  } catch (err) {
    await target.stop();
    throw err;
  }
  return target;
}
