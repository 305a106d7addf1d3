/** Operations: /metrics counters, one JSON log line per request, and concurrent writes to one tag. */
import { PassThrough } from 'node:stream';
import t from 'tap';
import { createLogger } from '../src/log.js';
import { registryFixture, pushBlob, pushTree, putManifest, getRaw } from './helpers/registry.js';
import { allBlobs, ociImage, parsePlatform, randomBlob } from './helpers/oci.js';

/** Value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

t.test('/metrics exposes request counters, bytes and uploads in flight', async (t) => {
  const fx = await registryFixture(t);
  const before = (await fx.request.get('/metrics')).text;
  const base0 = sample(before, 'nitro_registry_http_requests_total', { route: 'base', method: 'GET', status: '200' });
  for (let i = 0; i < 3; i++) await fx.request.get('/v2/');
  await fx.request.get('/v2/nope/manifests/x');
  const blob = randomBlob(10_000);
  await pushBlob(fx.request, 'r', blob);
  await getRaw(fx.request, `/v2/r/blobs/${blob.digest}`);

  const res = await fx.request.get('/metrics');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  const text = res.text;
  t.equal(sample(text, 'nitro_registry_http_requests_total', { route: 'base', method: 'GET', status: '200' }) - base0, 3, 'three GET /v2/ counted');
  t.equal(sample(text, 'nitro_registry_http_requests_total', { route: 'manifest_get', status: '404' }), 1, 'the 404 is counted with its status');
  t.equal(sample(text, 'nitro_registry_http_requests_total', { route: 'upload_start', method: 'POST', status: '201' }), 1);
  t.ok(sample(text, 'nitro_registry_bytes_received_total', {}) >= 0 || text.includes('nitro_registry_bytes_received_total '), 'bytes in exposed');
  const bytesIn = Number(/^nitro_registry_bytes_received_total (\d+)/m.exec(text)?.[1]);
  const bytesOut = Number(/^nitro_registry_bytes_sent_total (\d+)/m.exec(text)?.[1]);
  t.ok(bytesIn >= blob.size, `bytes received counted (${bytesIn})`);
  t.ok(bytesOut >= blob.size, `bytes sent counted (${bytesOut})`);
  t.match(text, /^nitro_registry_uploads_in_flight 0$/m, 'uploads in flight gauge');
  t.match(text, /nitro_registry_http_request_duration_seconds_bucket/, 'duration histogram');
});

t.test('one JSON log line per request with method, repository, status, bytes and duration; no secrets', async (t) => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  const log = createLogger('info', stream);
  const fx = await registryFixture(t, {}, { log });
  const blob = randomBlob(4321);
  const secret = 'Basic ' + Buffer.from('alice:s3cr3t-password').toString('base64');
  await fx.request.get('/v2/').set('Authorization', secret);
  await pushBlob(fx.request, 'ns/app', blob);
  await getRaw(fx.request, `/v2/ns/app/blobs/${blob.digest}`);
  await fx.request.get('/v2/ns/app/manifests/missing');
  await fx.request.get('/v2/BAD/tags/list');
  const sent = 5;
  await new Promise((r) => setImmediate(r));

  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = parsed.filter((p) => p.msg === 'request');
  t.equal(requests.length, sent, 'exactly one request line per request');
  for (const r of requests) {
    t.type(r.method, 'string');
    t.type(r.status, 'number');
    t.type(r.durationMs, 'number');
    t.type(r.path, 'string');
  }
  const [base, push, get, missing, bad] = requests;
  t.match(base, { method: 'GET', path: '/v2/', status: 200 });
  t.match(push, { method: 'POST', repository: 'ns/app', status: 201, bytesIn: blob.size });
  t.match(get, { method: 'GET', repository: 'ns/app', status: 200, bytesOut: blob.size });
  t.match(missing, { method: 'GET', repository: 'ns/app', status: 404 });
  t.match(bad, { method: 'GET', status: 400 });
  t.notOk(text.includes('s3cr3t'), 'the password never reaches the log');
  t.notOk(text.includes(secret.slice(6)), 'the Authorization header never reaches the log');
});

t.test('two concurrent PUTs of different manifests to one tag leave a consistent tag', async (t) => {
  const fx = await registryFixture(t);
  const a = ociImage({ platform: parsePlatform('linux/amd64') });
  const b = ociImage({ platform: parsePlatform('linux/arm64') });
  for (const blob of [...allBlobs(a), ...allBlobs(b)]) await pushBlob(fx.request, 'r', blob);
  for (let round = 0; round < 15; round++) {
    const tag = `race-${round}`;
    const [ra, rb] = await Promise.all([putManifest(fx.request, 'r', tag, a), putManifest(fx.request, 'r', tag, b)]);
    t.same([ra.status, rb.status], [201, 201], `round ${round}: both PUTs succeed`);
    const got = await getRaw(fx.request, `/v2/r/manifests/${tag}`);
    const digest = got.headers['docker-content-digest'];
    t.ok(digest === a.digest || digest === b.digest, `round ${round}: tag names one of the two`);
    const body = got.body as Buffer;
    t.ok(body.equals(digest === a.digest ? a.bytes : b.bytes), `round ${round}: body matches the digest header`);
  }
  const tags = await fx.request.get('/v2/r/tags/list');
  t.equal(tags.body.tags.length, 15, 'each tag listed once');
  t.equal(new Set(tags.body.tags).size, 15);
});

t.test('concurrent pushes of the same blob and manifest all succeed', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage();
  const blobs = allBlobs(m);
  const results = await Promise.all(Array.from({ length: 6 }, () => Promise.all(blobs.map((b) => pushBlob(fx.request, 'r', b)))));
  t.same(results.flat().map((r) => r.status), Array(12).fill(201));
  const puts = await Promise.all(Array.from({ length: 6 }, (_, i) => putManifest(fx.request, 'r', `t${i}`, m)));
  t.same(puts.map((r) => r.status), Array(6).fill(201));
  await pushTree(fx.request, 'r', m, 'final');
  t.equal((await fx.request.get('/v2/r/manifests/final')).status, 200);
  const files: string[] = [];
  for await (const b of fx.registry.deps.blobs.list()) files.push(b.digest);
  t.equal(files.length, blobs.length, 'one stored file per distinct blob');
});
