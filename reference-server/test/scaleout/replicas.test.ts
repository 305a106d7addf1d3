/**
 * Three replicas of the reference server on one PostgreSQL database and one blob store — a shared
 * directory, then an S3 bucket on Ceph RGW — behind HAProxy (round robin, no stickiness), started the way
 * an operator runs them (`nitro-registry serve --config FILE`). Real components only.
 *
 * Per blob store:
 *   - a JWT from one replica is accepted by every other; they serve the same JWKS
 *   - a chunked upload whose POST, PATCHes and PUT land on different replicas
 *   - replicas racing the first push of an immutable tag: exactly one winner, every replica agrees
 *   - docker push/pull and `skopeo copy --all` through the load balancer (real clients)
 *   - GC looping on one replica while pushes go through the others (REPLICA_GC_SECONDS, default 30 s;
 *     a run length, not a threshold): 0 push errors, 0 acknowledged lost, 0 corrupt; afterwards storage
 *     holds exactly what acknowledged tags reach
 *   - kill -9 of a replica during pushes through the load balancer: nothing acknowledged is lost
 *   - S3: nothing was written to the replicas' local data directories
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t from 'tap';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { postgresDatabase } from '../helpers/postgres.js';
import { s3Bucket, s3Client, storageS3Config, type S3Bucket } from '../helpers/s3.js';
import { loadBalancer } from '../helpers/haproxy.js';
import { replicas } from '../helpers/replicas.js';
import { scaleoutSkip } from '../helpers/scaleout-env.js';
import { Client, PushError, sha256, type PushedImage } from '../gc/client.js';

const BIN = fileURLToPath(new URL('../../../bin/nitro-registry.js', import.meta.url));

const GC_SECONDS = Number(process.env.REPLICA_GC_SECONDS ?? 30);
// Two variants × (3 replicas started, docker, skopeo, ≥ 30 s of GC under pushes, kill -9): well past the
// 180 s per-file default of .taprc on a 2-core CI machine.
t.setTimeout(1_500_000);
const ADMIN_PASSWORD = 'replica-admin-password-1';
const BASIC = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const dockerOk = (() => {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && r.stdout.trim() !== '';
})();
const dockerSkip = dockerOk || process.env.REQUIRE_DOCKER === '1' ? false : 'no Docker engine answers `docker info` (REQUIRE_DOCKER=1 fails instead)';
const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

/** Deterministic pseudo-random bytes, so shared layers are identical across workers. */
function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, off);
  }
  return out;
}

async function call(url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init, headers: { Authorization: BASIC, ...(init.headers ?? {}) } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(join(dir, f)).isFile());
}

for (const storage of ['shared directory', 's3'] as const) {
  const skip = scaleoutSkip('postgres', 'haproxy', ...(storage === 's3' ? (['s3'] as const) : []));
  t.test(`3 replicas on PostgreSQL + ${storage} behind HAProxy`, { skip, timeout: 900_000 }, async (t) => {
    const work = t.testdir();
    const database = await postgresDatabase(t);
    const bucket: S3Bucket | null = storage === 's3' ? await s3Bucket(t) : null;
    const sharedData = join(work, 'shared');
    mkdirSync(sharedData);
    const dataOf = (i: number) => (bucket ? join(work, `replica-${i}`) : sharedData);
    const set = await replicas(
      t,
      3,
      (i) => ({
        data: dataOf(i),
        database: { url: database },
        ...(bucket ? { storage: { driver: 's3', s3: storageS3Config(bucket) } } : {}),
        log_level: 'warn',
        // A grace of a few seconds: long enough for one push on a busy 2-core CI machine (a blob uploaded
        // more than the grace before its manifest is fair game for GC — that is what the grace means).
        gc: { grace_seconds: 10 },
        repositories: [{ name: 'locked', visibility: 'public', config: { type: 'Hosted', push_rules: { allow_tag_overwrite: false } } }],
      }),
      // Three Node processes starting at once on a shared 2-core CI machine (one also migrating): give
      // them longer than the helper's default 30 s before calling it a failure.
      { env: { NITRO_REGISTRY_ADMIN_PASSWORD: ADMIN_PASSWORD }, readyTimeoutMs: 120_000 },
    );
    const lb = await loadBalancer(t, [...set.urls]);
    const [r0, r1, r2] = set.urls as [string, string, string];

    await t.test('a token from one replica is accepted by every other; one JWKS', async (t) => {
      const tok = await call(`${r0}/api/auth/token?service=nitro-repo&scope=repository:shared/x:pull,push`);
      t.equal(tok.status, 200);
      const token = (JSON.parse(tok.body.toString()) as { token: string }).token;
      for (const url of set.urls) {
        const res = await fetch(`${url}/v2/`, { headers: { Authorization: `Bearer ${token}` } });
        t.equal(res.status, 200, `accepted by ${url}`);
        await res.arrayBuffer();
      }
      const jwks = await Promise.all(set.urls.map(async (u) => (await fetch(`${u}/api/auth/jwks`)).json()));
      t.same(jwks[1], jwks[0]);
      t.same(jwks[2], jwks[0], 'every replica publishes the same keys');
    });

    await t.test('a chunked upload whose POST, PATCHes and PUT land on different replicas', async (t) => {
      const chunks = [bytes('c1', 6 * 1024 * 1024 + 11), bytes('c2', 3 * 1024 * 1024), bytes('c3', 1234)];
      const all = Buffer.concat(chunks);
      const digest = sha256(all);
      const start = await call(`${r0}/v2/chunked/app/blobs/uploads/`, { method: 'POST' });
      t.equal(start.status, 202);
      let location = start.headers.get('location')!;
      let offset = 0;
      for (const [i, chunk] of chunks.slice(0, 2).entries()) {
        const target = [r1, r2][i]!;
        const p = await call(`${target}${location}`, {
          method: 'PATCH',
          body: chunk,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        });
        t.equal(p.status, 202, `PATCH ${i + 1} on replica ${i + 1}`);
        offset += chunk.length;
        t.equal(p.headers.get('range'), `0-${offset - 1}`);
        location = p.headers.get('location') ?? location;
      }
      const status = await call(`${r0}${location}`);
      t.equal(status.headers.get('range'), `0-${offset - 1}`, 'every replica sees the same offset');
      const put = await call(`${r0}${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, {
        method: 'PUT',
        body: chunks[2],
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      t.equal(put.status, 201, `PUT with the last chunk on replica 0 (${put.body.toString().slice(0, 300)})`);
      for (const url of set.urls) {
        const got = await call(`${url}/v2/chunked/app/blobs/${digest}`);
        t.equal(got.status, 200);
        t.equal(sha256(got.body), digest, `replica ${url} serves the whole blob`);
      }
    });

    await t.test('replicas racing the first push of an immutable tag: exactly one winner', async (t) => {
      const client = new Client(r0, BASIC);
      const layer = await client.pushBlob('locked/app', bytes('immutable-layer', 4096), 'monolithic');
      const config = await client.pushBlob('locked/app', Buffer.from('{"immutable":true}'), 'monolithic');
      for (let round = 0; round < 5; round++) {
        const tag = `v${round}`;
        const bodies = set.urls.map((_, i) =>
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 18 },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 4096 }],
            annotations: { contender: `${round}-${i}` },
          }),
        );
        const results = await Promise.all(
          set.urls.map((url, i) => call(`${url}/v2/locked/app/manifests/${tag}`, { method: 'PUT', body: bodies[i], headers: { 'Content-Type': OCI_MANIFEST } })),
        );
        const statuses = results.map((r) => r.status).sort();
        t.same(statuses, [201, 409, 409], `round ${round}: one 201, two 409 TAG_IMMUTABLE`);
        const winner = sha256(bodies[results.findIndex((r) => r.status === 201)]!);
        for (const url of set.urls) {
          const head = await call(`${url}/v2/locked/app/manifests/${tag}`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
          t.equal(head.headers.get('docker-content-digest'), winner, `${url} resolves ${tag} to the winner`);
        }
      }
    });

    await t.test('docker push/pull and skopeo copy --all through the load balancer', { skip: dockerSkip }, async (t) => {
      const host = lb.url.replace(/^http:\/\//, '');
      const cfg = join(work, 'docker-config');
      const ctx = join(work, 'ctx');
      mkdirSync(ctx, { recursive: true });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(ctx, 'hello.txt'), `hello from ${storage} ${Date.now()}\n${randomBytes(256 * 1024).toString('base64')}\n`);
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
      const docker = (args: string[], input = '') =>
        spawnSync('docker', args, { cwd: ctx, env: { ...process.env, DOCKER_CONFIG: cfg }, input, encoding: 'utf8', timeout: 180_000 });
      const local = `nitro-replicas-test:${process.pid}-${storage === 's3' ? 's3' : 'fs'}`;
      t.teardown(() => void docker(['rmi', '-f', local, `${host}/team/app:1`]));
      t.equal(docker(['build', '-t', local, '.']).status, 0, 'docker build');
      const login = docker(['login', host, '--username', 'admin', '--password-stdin'], `${ADMIN_PASSWORD}\n`);
      t.equal(login.status, 0, `docker login through the load balancer (${login.stderr.slice(-300)})`);
      t.equal(docker(['tag', local, `${host}/team/app:1`]).status, 0);
      const push = docker(['push', `${host}/team/app:1`]);
      t.equal(push.status, 0, `docker push (${(push.stdout + push.stderr).slice(-400)})`);
      docker(['rmi', '-f', `${host}/team/app:1`]);
      const pull = docker(['pull', `${host}/team/app:1`]);
      t.equal(pull.status, 0, `docker pull (${(pull.stdout + pull.stderr).slice(-400)})`);
      const states = await lb.states();
      t.ok(states.filter((s) => s.requests > 0).length === 3, `every replica served part of it (${states.map((s) => s.requests).join('/')})`);

      if (!SKOPEO) return void t.comment('skopeo is not installed (.ci/run installs it): copy --all not checked');
      const copy = spawnSync(
        SKOPEO,
        ['--insecure-policy', 'copy', '--all', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', `admin:${ADMIN_PASSWORD}`, '--dest-creds', `admin:${ADMIN_PASSWORD}`, `docker://${host}/team/app:1`, `docker://${host}/team/copy:1`],
        { encoding: 'utf8', timeout: 180_000, env: { ...process.env, HOME: work } },
      );
      t.equal(copy.status, 0, `skopeo copy --all (${copy.stderr.slice(-400)})`);
      const a = await call(`${r1}/v2/team/app/manifests/1`, { method: 'HEAD', headers: { Accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json` } });
      const b = await call(`${r2}/v2/team/copy/manifests/1`, { method: 'HEAD', headers: { Accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json` } });
      t.equal(b.headers.get('docker-content-digest'), a.headers.get('docker-content-digest'), 'the copy has the same digest');
    });

    const expected = new Map<string, PushedImage>();
    const POOL = Array.from({ length: 6 }, (_, i) => bytes(`pool-${storage}-${i}`, 8 * 1024 + i * 512));
    const NAMES = ['proj-a/app', 'proj-b/app', 'shared/base'];

    await t.test(`GC looping on one replica while pushes go through the others for ${GC_SECONDS} s`, async (t) => {
      const errors: string[] = [];
      const figures = { pushes: 0, retags: 0, deletes: 0, gcRuns: 0, swept: 0, slowestPushMs: 0 };
      let stop = false;
      const gcLoop = (async () => {
        while (!stop) {
          const r = await call(`${r0}/api/repository/default/gc`, {
            method: 'POST',
            body: JSON.stringify({ delete_untagged: true }),
            headers: { 'Content-Type': 'application/json' },
          });
          if (r.status !== 200) errors.push(`GC → ${r.status} ${r.body.toString().slice(0, 200)}`);
          else {
            figures.gcRuns++;
            figures.swept += (JSON.parse(r.body.toString()) as { blobs_deleted: number }).blobs_deleted;
          }
          await new Promise((res) => setTimeout(res, 200));
        }
      })();
      const worker = async (w: number) => {
        const client = new Client(w % 2 === 0 ? r1 : r2, BASIC);
        let n = 0;
        while (!stop) {
          n++;
          const name = NAMES[(w + n) % NAMES.length]!;
          const tag = `w${w}-t${n % 4}`;
          try {
            if (n % 7 === 6 && expected.has(`${name}:${tag}`)) {
              const status = await client.deleteManifest(name, tag);
              if (status !== 202) errors.push(`DELETE ${name}:${tag} → ${status}`);
              expected.delete(`${name}:${tag}`);
              figures.deletes++;
              continue;
            }
            const layers = [POOL[(w + n) % POOL.length]!, bytes(`${storage}-w${w}-${n}`, 3000 + (n % 5) * 1000)];
            const style = (i: number) => (i % 3 === 2 ? { mountFrom: NAMES[(n + i) % NAMES.length]! } : i % 3 === 1 ? ('chunked' as const) : ('monolithic' as const));
            const started = Date.now();
            const img = await client.pushImage(name, tag, Buffer.from(`{"w":${w},"n":${n},"s":"${storage}"}`), layers, { style }).finally(() => {
              figures.slowestPushMs = Math.max(figures.slowestPushMs, Date.now() - started);
            });
            expected.set(`${name}:${tag}`, img);
            figures.pushes++;
          } catch (e) {
            errors.push(`${name}:${tag}: ${e instanceof PushError ? `${e.status} ${e.code}` : (e as Error).message} (slowest push so far ${figures.slowestPushMs} ms)`);
          }
        }
      };
      const workers = [0, 1, 2, 3].map((w) => worker(w));
      await new Promise((res) => setTimeout(res, GC_SECONDS * 1000));
      stop = true;
      await Promise.all([...workers, gcLoop]);
      t.comment(`replicas + ${storage}, ${GC_SECONDS} s: ${JSON.stringify(figures)}, tags ${expected.size}`);
      t.same(errors, [], '0 push errors (and every GC run answered 200)');
      t.ok(figures.pushes > 0 && figures.gcRuns > 0, 'pushes and GC runs really overlapped');

      let lost = 0;
      for (const [key, img] of expected) {
        const tag = key.slice(key.lastIndexOf(':') + 1);
        const problems = await new Client(r2, BASIC).pullProblems(img.name, tag, img.digest);
        if (problems.length > 0) {
          lost++;
          t.fail(`${key} does not pull completely`, { problems });
        }
      }
      t.equal(lost, 0, '0 acknowledged tags lost or corrupt (every blob re-hashed on pull)');
    });

    await t.test('kill -9 of a replica during pushes through the load balancer: nothing acknowledged is lost', async (t) => {
      const acknowledged = new Map<string, PushedImage>();
      let stop = false;
      let failedAttempts = 0;
      const worker = async (w: number) => {
        const client = new Client(lb.url, BASIC);
        for (let n = 0; !stop; n++) {
          const name = `crash/w${w}`;
          const tag = `t${n}`;
          try {
            const img = await client.pushImage(name, tag, Buffer.from(`{"crash":${w},"n":${n}}`), [bytes(`crash-${storage}-${w}-${n}`, 20_000), POOL[n % POOL.length]!], {
              style: (i) => (i % 2 ? 'chunked' : 'monolithic'),
            });
            acknowledged.set(`${name}:${tag}`, img);
          } catch {
            failedAttempts++; // cut by the kill: never acknowledged, the client moves on
          }
        }
      };
      const workers = [0, 1, 2].map((w) => worker(w));
      await new Promise((res) => setTimeout(res, 3000));
      await set.kill(1, 'SIGKILL');
      await new Promise((res) => setTimeout(res, 3000));
      await set.restart(1);
      await new Promise((res) => setTimeout(res, 2000));
      stop = true;
      await Promise.all(workers);
      t.comment(`acknowledged ${acknowledged.size} pushes, ${failedAttempts} cut by the kill`);
      t.ok(acknowledged.size > 0, 'pushes were acknowledged around the kill');
      let lost = 0;
      for (const [key, img] of acknowledged) {
        const tag = key.slice(key.lastIndexOf(':') + 1);
        const problems = await new Client(lb.url, BASIC).pullProblems(img.name, tag, img.digest);
        if (problems.length > 0) {
          lost++;
          t.fail(`${key} lost after the kill`, { problems });
        }
      }
      t.equal(lost, 0, 'every acknowledged push pulls completely');
    });

    await t.test('after a final GC, storage holds exactly what acknowledged tags reach', async (t) => {
      // The whole registry, as the scheduler or an operator runs it: a repository's GC (the API) does not
      // look for bytes without a record, which a kill -9 between publishing a blob and recording it leaves.
      // `nitro-registry gc` on PostgreSQL runs while the replicas serve (docs/deploy-replicas.md).
      const gc = spawnSync(process.execPath, [BIN, 'gc', '--config', set.configFiles[2]!, '--grace-seconds', '0', '--delete-untagged', '--json'], {
        encoding: 'utf8',
        timeout: 300_000,
      });
      t.equal(gc.status, 0, `nitro-registry gc (${gc.stderr.slice(-400)})`);
      const db = new pg.Client({ connectionString: database });
      await db.connect();
      t.teardown(() => db.end());
      const records = new Set((await db.query<{ digest: string }>('SELECT digest FROM blobs')).rows.map((r) => r.digest));
      const stored = new Set<string>();
      if (bucket) {
        const s3 = s3Client(bucket);
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket.bucket, ContinuationToken: token }));
          for (const o of page.Contents ?? []) {
            const m = /blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/.exec(o.Key ?? '');
            if (m) stored.add(`${m[1]}:${m[2]}`);
          }
          token = page.NextContinuationToken;
        } while (token);
      } else {
        for (const f of filesUnder(join(sharedData, 'blobs'))) stored.add(`${f.split('/')[0]}:${f.split('/').pop()}`);
      }
      t.same([...stored].sort(), [...records].sort(), 'blob records and stored blobs are the same set');
      // Every blob record is reachable: pull everything acknowledged and collect what it needs.
      for (const d of records) {
        const refs = await db.query('SELECT 1 FROM manifest_refs WHERE child = $1 LIMIT 1', [d]);
        t.equal(refs.rowCount, 1, `${d} is referenced by a stored manifest`);
      }
    });

    if (bucket) {
      await t.test('S3: nothing was written to the replicas’ local data directories', async (t) => {
        for (let i = 0; i < 3; i++) t.same(filesUnder(dataOf(i)), [], `replica ${i}`);
      });
    }
  });
}
