/**
 * Repository names and path tricks (`..`, `%2e%2e`, upper case, absolute, backslash, very long) are
 * refused with 400 NAME_INVALID and nothing is written outside the data directory; a few hundred
 * malformed requests never get a 5xx.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { registryFixture, rawRequest, pushTree, errorCodes } from './helpers/registry.js';
import { MT, artifact, digestOf, ociImage, randomBlob } from './helpers/oci.js';

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/** Names the grammar refuses and no URL normalisation can turn into a valid one. */
const INVALID_NAMES = [
  'UPPER',
  'ns/App',
  'a%5Cb', // backslash, encoded
  '%5Cabs',
  '%2Fabs', // encoded absolute path
  '%2Fetc%2Fpasswd',
  '..%2F..%2Fpwned', // encoded slashes: one path segment holding ..
  '%2E%2E%2F%2E%2E%2Fpwned',
  'a/..%2F..%2Fb',
  'a..b',
  '-a',
  'a-',
  '.a',
  'a_',
  'a___b',
  'a//b',
  'a%00b',
  '%C3%A9t%C3%A9',
  'a%20b',
  '%ff%fe',
  'a'.repeat(256),
  Array.from({ length: 90 }, () => 'ab').join('/'), // 269 characters
];

/**
 * What a WHATWG URL parser rewrites before routing (dot segments; a raw backslash becomes '/'): these
 * may route elsewhere, but must never reach storage as names or escape the data directory.
 */
const NORMALISED_NAMES = ['a\\b', '..\\..\\pwned', '..', '%2e%2e', '%2E%2E', '.', '%2e', 'a/..', 'a/%2e%2e', '../..', '%2e%2e/%2e%2e/%2e%2e'];

t.test('invalid names and path tricks: 400 NAME_INVALID, nothing written outside the data directory', async (t) => {
  const outer = mkdtempSync(join(tmpdir(), 'nitro-registry-escape-'));
  t.teardown(() => rmSync(outer, { recursive: true, force: true }));
  const dataDir = join(outer, 'data');
  const fx = await registryFixture(t, { data: dataDir });
  const image = ociImage();
  const blob = randomBlob(32);
  const endpoints = (n: string): [string, string, Buffer | undefined, Record<string, string>][] => [
    ['GET', `/v2/${n}/manifests/latest`, undefined, {}],
    ['HEAD', `/v2/${n}/manifests/latest`, undefined, {}],
    ['PUT', `/v2/${n}/manifests/pwned`, image.bytes, { 'Content-Type': MT.ociManifest }],
    ['DELETE', `/v2/${n}/manifests/latest`, undefined, {}],
    ['GET', `/v2/${n}/tags/list`, undefined, {}],
    ['GET', `/v2/${n}/blobs/${blob.digest}`, undefined, {}],
    ['DELETE', `/v2/${n}/blobs/${blob.digest}`, undefined, {}],
    ['POST', `/v2/${n}/blobs/uploads/`, undefined, {}],
    ['POST', `/v2/${n}/blobs/uploads/?digest=${blob.digest}`, blob.bytes, { 'Content-Type': 'application/octet-stream' }],
    ['POST', `/v2/${n}/blobs/uploads/?mount=${blob.digest}&from=ok`, undefined, {}],
    ['PATCH', `/v2/${n}/blobs/uploads/00000000-0000-4000-8000-000000000000`, blob.bytes, {}],
    ['GET', `/v2/${n}/referrers/${blob.digest}`, undefined, {}],
  ];
  await pushTree(fx.request, 'ok', ociImage({ platform: { os: 'linux', architecture: 'arm64' } }), 'v1');

  for (const name of INVALID_NAMES) {
    for (const [method, path, body, headers] of endpoints(name)) {
      const res = await rawRequest(fx.url, method, path, headers, body);
      const label = `${method} ${path.slice(0, 70)}`;
      t.equal(res.status, 400, label);
      if (method !== 'HEAD') t.same(errorCodes(JSON.parse(res.body.toString() || '{}')), ['NAME_INVALID'], `${label}: NAME_INVALID`);
    }
  }
  for (const name of NORMALISED_NAMES) {
    for (const [method, path, body, headers] of endpoints(name)) {
      const res = await rawRequest(fx.url, method, path, headers, body);
      t.ok(res.status > 0 && res.status < 500, `${method} ${path.slice(0, 70)} → ${res.status} (not a 5xx)`);
    }
  }

  // On S3 + PostgreSQL (the backend matrix) nothing is written locally, so the data directory may not exist.
  t.same(readdirSync(outer).filter((n) => n !== 'data'), [], 'nothing appeared next to the data directory');
  const files = existsSync(dataDir) ? listFiles(dataDir) : [];
  const unexpected = files.filter(
    (f) => !/^registry\.db(-wal|-shm)?$/.test(f) && !/^blobs\/sha(256|512)\/[0-9a-f]{2}\/[0-9a-f]{64,128}$/.test(f) && !/^uploads\/[a-zA-Z0-9-]+$/.test(f),
  );
  t.same(unexpected, [], 'only blobs, upload scratch files and the database under the data directory');
  const catalog = await fx.request.get('/v2/_catalog');
  const invalid = (catalog.body.repositories as string[]).filter((r) => !/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/.test(r));
  t.same(invalid, [], 'no repository was created under an invalid name');
});

t.test('the longest valid name and deep paths work', async (t) => {
  const fx = await registryFixture(t);
  const long = Array.from({ length: 85 }, () => 'ab').join('/'); // 254 characters
  t.ok(long.length <= 255);
  const m = artifact({ artifactType: 'application/x-test' });
  await pushTree(fx.request, long, m, 'v1');
  const res = await fx.request.get(`/v2/${long}/manifests/v1`);
  t.equal(res.status, 200);
  const tags = await fx.request.get(`/v2/${long}/tags/list`);
  t.same(tags.body, { name: long, tags: ['v1'] });
  // Names containing the route keywords still route correctly.
  const tricky = 'blobs/uploads/manifests/tags/list';
  await pushTree(fx.request, tricky, m, 'v1');
  t.equal((await fx.request.get(`/v2/${tricky}/manifests/v1`)).status, 200);
  t.same((await fx.request.get(`/v2/${tricky}/tags/list`)).body, { name: tricky, tags: ['v1'] });
});

t.test('paths starting with // or /\\ are a 4xx, never a 500', async (t) => {
  const fx = await registryFixture(t);
  for (const path of ['//', '///', '//%zz', '/\\', '/\\%zz..%', '//evil.example/%', '//a:b@c:99999/v2/']) {
    for (const method of ['GET', 'HEAD', 'PUT', 'PATCH']) {
      const res = await rawRequest(fx.url, method, path, {}, method === 'PUT' || method === 'PATCH' ? Buffer.from('x') : undefined);
      t.ok(res.status >= 400 && res.status < 500, `${method} ${path} → ${res.status}`);
    }
  }
});

/** mulberry32: a tiny seeded PRNG, so a failing fuzz run can be replayed with FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('fuzz: malformed requests never get a 5xx', async (t) => {
  // A fixed seed keeps CI reproducible; FUZZ_SEED=random explores (the seed is printed either way).
  const envSeed = process.env.FUZZ_SEED;
  const seed = envSeed === 'random' ? Date.now() % 1_000_000 : Number(envSeed ?? 20261126);
  t.comment(`FUZZ_SEED=${seed}`);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const fx = await registryFixture(t);
  const image = ociImage();
  await pushTree(fx.request, 'ns/app', image, 'v1');
  const sessions: string[] = [];
  for (let i = 0; i < 3; i++) sessions.push(((await fx.request.post('/v2/ns/app/blobs/uploads/')).headers.location as string).split('/').pop()!);

  const names = ['ns/app', 'other', 'ns/App', '..', '%2e%2e', 'a//b', '%ff', 'a%00', 'x'.repeat(300), '', '_catalog', 'v2'];
  const refs = ['v1', 'latest', image.digest, 'sha256:', 'sha256:zz', `sha512:${'0'.repeat(128)}`, '%ff', '-x', 'a'.repeat(200), 'sha256:' + 'A'.repeat(64), '%00'];
  const digests = [image.digest, digestOf('x'), 'sha256:abc', 'md5:00', '', '%2e%2e', `sha256:${'0'.repeat(64)}%00`];
  const uuids = [...sessions, 'garbage', '00000000-0000-0000-0000-000000000000', '%ff', '..', 'a'.repeat(70), ''];
  const queries = ['', '?n=2', '?n=-1', '?n=99999999999999999999', '?n=1e3', '?last=%ff', '?n=&last=', '?digest=sha256:zz', `?digest=${digestOf('')}`, '?mount=sha256:zz&from=..', `?mount=${image.blobs[0]!.digest}&from=%2e%2e`, '?artifactType=%00', '?%%%'];
  const suffixes = () => [
    `/manifests/${pick(refs)}`,
    `/blobs/${pick(digests)}`,
    `/blobs/uploads/${pick(uuids)}`,
    '/blobs/uploads/',
    '/tags/list',
    `/referrers/${pick(digests)}`,
    '/',
    '/manifests/',
  ];
  const d = image.doc as Record<string, unknown>;
  const bodies: (() => Buffer | undefined)[] = [
    () => undefined,
    () => Buffer.alloc(0),
    () => randomBlob(Math.floor(rnd() * 3000)).bytes,
    () => Buffer.from('{"schemaVersion":2'),
    () => Buffer.from(JSON.stringify({ ...d, layers: [{ mediaType: 5, digest: null, size: 'x' }] })),
    () => Buffer.from(JSON.stringify({ ...d, config: { ...(d.config as object), size: 1e300 } })),
    () => Buffer.from(JSON.stringify({ ...d, subject: { mediaType: MT.ociManifest, digest: 'sha256:', size: -5 } })),
    () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [[], {}, null] })),
    () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: 'nope', annotations: [1] })),
    () => Buffer.from(JSON.stringify({ ...d, annotations: { a: { nested: true } }, artifactType: 7 })),
    () => Buffer.from('null'),
    () => Buffer.from('\uFEFF' + JSON.stringify(d)),
    () => image.bytes,
  ];
  const headerSets: (() => Record<string, string>)[] = [
    () => ({}),
    () => ({ 'Content-Range': pick(['0-', '-1-5', '5-1', 'bytes 0-9/*', '0-99999999999999999999', 'x', '0-0']) }),
    () => ({ Range: pick(['bytes=0-', 'bytes=99999999999999999999-', 'bytes=-', 'bytes=1-0', 'pages=1', 'bytes=0-1,3-4']) }),
    () => ({ 'Content-Type': pick([MT.ociManifest, MT.ociIndex, MT.dockerManifest, 'application/json', 'text/plain', ';;;', 'application/vnd.oci.image.manifest.v1+json; charset=utf-8']) }),
    () => ({ Accept: '*/*, application/vnd.oci.image.index.v1+json;q=0.1', 'Content-Type': MT.ociManifest }),
  ];
  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'];

  const failures: string[] = [];
  const N = 400;
  const deadline = Date.now() + 30_000;
  let sent = 0;
  for (let i = 0; i < N && Date.now() < deadline; i++) {
    const method = pick(methods);
    const path = rnd() < 0.1 ? '/' + Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => pick(['v2', '/', '%', '%zz', '..', 'a', '%2f', '~', '\\', '?', '&', '='])).join('') : `/v2/${pick(names)}${pick(suffixes())}${pick(queries)}`;
    const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies)();
    const headers = pick(headerSets)();
    let res;
    try {
      res = await rawRequest(fx.url, method, path, headers, body);
    } catch (e) {
      failures.push(`${method} ${path}: ${(e as Error).message}`);
      continue;
    }
    sent++;
    if (res.status >= 500 || res.status === -1) failures.push(`${method} ${path} ${JSON.stringify(headers)} → ${res.status} ${res.body.toString().slice(0, 200)}`);
    else if (res.status >= 400 && res.headers['docker-distribution-api-version'] !== 'registry/2.0' && res.status !== 400) {
      failures.push(`${method} ${path} → ${res.status} without the API version header`);
    }
  }
  t.ok(sent >= 200, `sent ${sent} malformed requests`);
  t.same(failures, [], `no 5xx (seed ${seed})`);
  // The registry is still healthy afterwards.
  t.equal((await fx.request.get('/v2/ns/app/manifests/v1')).status, 200);
});
