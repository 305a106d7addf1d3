// Self-tests of the scale-out test helpers against the real services (scripts/ci/setup-scaleout.sh):
// each helper does what it promises and cleans up after itself. Skipped with the reason when a service
// is missing; REQUIRE_SCALEOUT=1 (CI) turns that into a failure.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { scaleoutSkip } from './helpers/scaleout-env.js';
import { postgresDatabase, withAdminClient } from './helpers/postgres.js';
import { s3Bucket, s3Client, type S3Bucket } from './helpers/s3.js';
import { loadBalancer } from './helpers/haproxy.js';
import { replicas } from './helpers/replicas.js';
import { httpStatus } from './helpers/processes.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

t.test('postgresDatabase: fresh empty databases, dropped WITH (FORCE) at teardown', { skip: scaleoutSkip('postgres') }, async (t) => {
  const names: string[] = [];
  await t.test('while the test runs', async (t) => {
    const urls = await Promise.all([postgresDatabase(t), postgresDatabase(t)]);
    t.not(urls[0], urls[1], 'one database per call');
    for (const url of urls) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      // Left connected on purpose: the teardown's DROP … WITH (FORCE) must end this session.
      client.on('error', () => {});
      const { rows } = await client.query<{ db: string; tables: string }>(
        "SELECT current_database() AS db, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') AS tables",
      );
      t.equal(rows[0]?.tables, '0', 'empty');
      await client.query('CREATE TABLE probe (id int PRIMARY KEY)');
      await client.query('INSERT INTO probe VALUES (1)');
      names.push(rows[0]?.db as string);
    }
    t.equal(new Set(names).size, 2);
  });
  const { rows } = await withAdminClient((c) => c.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [names]));
  t.same(rows, [], 'both databases are gone after the teardown');
});

t.test('s3Bucket: 20 MiB multipart upload, presigned GET, bucket deleted with its contents', { skip: scaleoutSkip('s3') }, async (t) => {
  let target: S3Bucket | undefined;
  await t.test('while the test runs', async (t) => {
    target = await s3Bucket(t);
    t.equal(target.forcePathStyle, true);
    const s3 = s3Client(target);
    t.teardown(() => s3.destroy());
    const Bucket = target.bucket;
    const Key = 'docker/registry/v2/blobs/sha256/ab/abcdef/data';
    const data = randomBytes(20 * MiB);
    const partSize = 5 * MiB;

    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const parts = [];
    for (let n = 1, off = 0; off < data.length; n++, off += partSize) {
      const part = data.subarray(off, off + partSize);
      // Streamed, as the blob driver sends request bodies: this is what RGW refuses as aws-chunked
      // unless the client's checksums are WHEN_REQUIRED.
      const Body = Readable.from((function* () {
        for (let o = 0; o < part.length; o += 256 * 1024) yield part.subarray(o, o + 256 * 1024);
      })());
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body, ContentLength: part.length }));
      parts.push({ ETag, PartNumber: n });
    }
    t.equal(parts.length, 4);
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    t.equal(head.ContentLength, data.length);
    t.match(head.ETag, /-4"$/, 'a 4-part multipart ETag (RGW leaves it empty in the Complete answer; HEAD has it)');

    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: 300 });
    const res = await fetch(url);
    t.equal(res.status, 200, 'presigned GET');
    t.equal(sha256(new Uint8Array(await res.arrayBuffer())), sha256(data), 'same bytes back');
    const ranged = await fetch(url, { headers: { Range: 'bytes=5242870-5242889' } });
    t.equal(ranged.status, 206);
    t.same(Buffer.from(await ranged.arrayBuffer()), data.subarray(5242870, 5242890), 'Range across a part boundary');
    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Expires', '301');
    t.equal(await httpStatus(tampered.toString()), 403, 'a changed presigned URL is refused (the server checks signatures)');

    // Left for the teardown: a second object and an unfinished multipart upload.
    await s3.send(new PutObjectCommand({ Bucket, Key: 'other', Body: 'x' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'unfinished' }));
  });
  if (!target) return;
  const s3 = s3Client(target);
  t.teardown(() => s3.destroy());
  const gone = await s3.send(new HeadBucketCommand({ Bucket: target.bucket })).then(
    () => 200,
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode,
  );
  t.equal(gone, 404, 'the bucket is deleted after the teardown');
});

/** A tiny backend: counts requests other than health checks, /readyz answers 200 or 503. */
async function backend(t: Test, name: string) {
  const b = { name, url: '', hits: 0, checks: 0, ready: true, server: undefined as Server | undefined };
  b.server = createServer((req, res) => {
    if (req.url === '/readyz') {
      b.checks++;
      res.writeHead(b.ready ? 200 : 503).end();
      return;
    }
    b.hits++;
    res.end(name);
  });
  await new Promise<void>((resolve) => b.server?.listen(0, '127.0.0.1', resolve));
  b.url = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}`;
  t.teardown(() => {
    b.server?.closeAllConnections();
    return new Promise<void>((resolve) => b.server?.close(() => resolve()));
  });
  return b;
}

/** GET through one kept-alive connection (round robin must not stick to it); resolves the body. */
function get(url: string, agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

t.test('loadBalancer: round robin per request, health checks, stopped by PID', { skip: scaleoutSkip('haproxy') }, async (t) => {
  const a = await backend(t, 'a');
  const b = await backend(t, 'b');
  let pid = 0;
  let url = '';
  await t.test('while the test runs', async (t) => {
    const lb = await loadBalancer(t, [a.url, b.url]);
    ({ pid, url } = lb);
    t.ok(a.checks > 0 && b.checks > 0, 'both backends were health-checked before loadBalancer() returned');
    t.same((await lb.states()).map((s) => s.status), ['UP', 'UP']);

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) bodies.push((await get(`${url}/v2/`, agent)).body);
    t.equal(a.hits + b.hits, 10);
    t.same([a.hits, b.hits], [5, 5], `both backends served requests of one client connection (${bodies.join('')})`);

    b.ready = false; // /readyz 503: taken out of the rotation
    await lb.waitForState(1, 'DOWN');
    const before = b.hits;
    for (let i = 0; i < 4; i++) t.equal((await get(`${url}/v2/`, agent)).body, 'a');
    t.equal(b.hits, before, 'a DOWN backend gets no requests');
    b.ready = true;
    await lb.waitForState(1, 'UP');
  });
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'haproxy (by its PID) is gone after the teardown');
  t.equal(await httpStatus(url), undefined, 'nothing listens on its port');
});

t.test('replicas: n server processes; kill -9 and restart on the same URL', async (t) => {
  const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'nitro-replica-data-')));
  t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  // Separate data directories until the server shares state through PostgreSQL/S3.
  const rs = await replicas(t, 2, (i) => ({ data: dirs[i], log_level: 'warn', auth: { enabled: false } }));
  t.equal(rs.urls.length, 2);
  t.not(rs.urls[0], rs.urls[1]);
  for (const u of rs.urls) t.equal(await httpStatus(`${u}/v2/`), 200, `${u} serves /v2/`);

  const blob = randomBytes(1000);
  const digest = `sha256:${sha256(blob)}`;
  const put = await fetch(`${rs.urls[0]}/v2/probe/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob });
  t.equal(put.status, 201, 'blob pushed to replica 0');

  const [url0, pid0] = [rs.urls[0], rs.pids[0]];
  await rs.kill(0);
  t.notOk(rs.running(0), 'replica 0 was killed');
  t.equal(await httpStatus(`${url0}/v2/`), undefined, 'and does not answer');
  t.equal(await httpStatus(`${rs.urls[1]}/v2/`), 200, 'replica 1 still answers');

  await rs.restart(0);
  t.equal(rs.urls[0], url0, 'same URL after restart');
  t.not(rs.pids[0], pid0, 'a new process');
  t.equal(await httpStatus(`${url0}/v2/probe/blobs/${digest}`), 200, 'its data survived the kill');
});

t.test('replicas behind loadBalancer: a killed replica is taken out, requests still succeed', { skip: scaleoutSkip('haproxy') }, async (t) => {
  const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'nitro-replica-data-')));
  t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const rs = await replicas(t, 2, (i) => ({ data: dirs[i], log_level: 'warn', auth: { enabled: false } }));
  // /v2/ until the server has /readyz (then the default health path applies).
  const lb = await loadBalancer(t, [...rs.urls], { healthPath: '/v2/' });
  await rs.kill(0);
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push(await httpStatus(`${lb.url}/v2/`));
  t.same(statuses, [200, 200, 200, 200, 200, 200], 'no request failed: a refused connection is retried on the other replica');
  await lb.waitForState(0, 'DOWN');
  await rs.restart(0);
  await lb.waitForState(0, 'UP');
  const before = (await lb.states()).map((s) => s.requests);
  for (let i = 0; i < 4; i++) await httpStatus(`${lb.url}/v2/`);
  const after = (await lb.states()).map((s) => s.requests);
  t.same([after[0] - before[0], after[1] - before[1]], [2, 2], 'the restarted replica is back in the rotation');
});
