// The registry client against small fake registries on 127.0.0.1:0: Bearer token flow, Basic, auth
// failures (never retried), retries for 429/5xx/read-after-write 404, network error classification,
// and a Docker manifest list (Accept lists all four manifest types).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { RegistryClient, RegistryError } from '../../src/registry/client.js';
import { verifyImages } from '../../src/verify/verify-image.js';
import { freePort } from './helpers/free-port.js';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function serve(t: Test, handler: Handler): Promise<{ host: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization ?? '-'}`);
    handler(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const fast = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

t.test('Bearer: challenge → token from the realm with Basic credentials → retried request', async (t) => {
  let host = '';
  const srv = await serve(t, (req, res, url) => {
    if (url.pathname === '/token') {
      if (req.headers.authorization !== basic('alice', 'pw')) return res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${url.searchParams.get('scope')}` }));
      return;
    }
    if (req.headers.authorization !== 'Bearer tok-repository:a/b:pull') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="test",scope="repository:a/b:pull"` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{}');
  });
  host = srv.host;
  const client = new RegistryClient({ host, insecure: true, credentials: { username: 'alice', password: 'pw' }, retry: fast });
  const m = await client.getManifest('a/b', 'v1');
  t.equal(m?.bytes.toString(), '{}');
  await client.getManifest('a/b', 'v2');
  t.same(srv.requests.map((r) => r.split(' ').slice(0, 2).join(' ')), [
    'GET /v2/a/b/manifests/v1',
    'GET /token?service=test&scope=repository%3Aa%2Fb%3Apull',
    'GET /v2/a/b/manifests/v1',
    'GET /v2/a/b/manifests/v2',
  ], 'the token is cached per scope');

  const wrong = new RegistryClient({ host, insecure: true, credentials: { username: 'alice', password: 'nope' }, retry: fast });
  const err = await wrong.getManifest('a/b', 'v1').catch((e: unknown) => e);
  t.ok(err instanceof RegistryError);
  t.equal((err as RegistryError).code, 'AUTH_FAILED');
  t.match((err as Error).message, /token endpoint http:\/\/127\.0\.0\.1:\d+\/token answered 401 for user "alice" — the registry rejected the credentials/);
});

t.test('Basic: a Basic challenge switches the client to Basic; 401 after that fails at once (no retry)', async (t) => {
  const srv = await serve(t, (req, res) => {
    if (req.headers.authorization === basic('u', 'good')) return res.writeHead(200, { 'content-length': '42' }).end();
    res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
  });
  const ok = new RegistryClient({ host: srv.host, insecure: true, credentials: { username: 'u', password: 'good' }, retry: fast });
  t.same(await ok.headBlob('a', 'sha256:00'), { status: 200, size: 42 });
  const before = srv.requests.length;
  const bad = new RegistryClient({ host: srv.host, insecure: true, credentials: { username: 'u', password: 'bad' }, retry: fast });
  await t.rejects(bad.headBlob('a', 'sha256:00'), { code: 'AUTH_FAILED' });
  t.equal(srv.requests.length - before, 2, 'one challenge, one authenticated attempt, no retries');
  const anonymous = new RegistryClient({ host: srv.host, insecure: true, retry: fast });
  await t.rejects(anonymous.headBlob('a', 'sha256:00'), /requires credentials \(Basic\) and none were given/);
});

t.test('403 is final: access denied, not retried', async (t) => {
  const srv = await serve(t, (_req, res) => res.writeHead(403).end());
  const client = new RegistryClient({ host: srv.host, insecure: true, retry: fast });
  await t.rejects(client.getManifest('a', 'b'), { code: 'ACCESS_DENIED' });
  t.equal(srv.requests.length, 1);
});

t.test('429 honours Retry-After, 5xx backs off, read-after-write 404 is retried for manifests only', async (t) => {
  let calls = 0;
  const srv = await serve(t, (_req, res, url) => {
    calls++;
    if (url.pathname.includes('/blobs/')) return res.writeHead(404).end();
    if (calls === 1) return res.writeHead(429, { 'retry-after': '0' }).end();
    if (calls === 2) return res.writeHead(503).end();
    if (calls === 3) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end('{"manifests":[]}');
  });
  const retries: string[] = [];
  const client = new RegistryClient({ host: srv.host, insecure: true, retry: fast, onRetry: (m) => retries.push(m) });
  const m = await client.getManifest('a', 'v1', { notFoundMayBeLag: true });
  t.equal(m?.bytes.toString(), '{"manifests":[]}');
  t.equal(retries.length, 3);
  t.match(retries[0], /answered 429; retrying in 0 ms/);
  t.match(retries[1], /answered 503/);
  t.match(retries[2], /answered 404/);
  const before = srv.requests.length;
  t.equal((await client.headBlob('a', 'sha256:00')).status, 404);
  t.equal(srv.requests.length - before, 1, 'a missing blob is reported at once');
});

t.test('retries are bounded', async (t) => {
  const srv = await serve(t, (_req, res) => res.writeHead(500).end());
  const client = new RegistryClient({ host: srv.host, insecure: true, retry: fast });
  await t.rejects(client.getManifest('a', 'v1'), /answered 500/);
  t.equal(srv.requests.length, 4);
});

t.test('network errors say what is wrong: plain HTTP without insecure, unreachable', async (t) => {
  const srv = await serve(t, (_req, res) => res.writeHead(200).end());
  const tls = new RegistryClient({ host: srv.host, retry: fast });
  await t.rejects(tls.ping(), { code: 'PLAIN_HTTP', message: /set `insecure: true`/ });
  const closed = new RegistryClient({ host: `127.0.0.1:${await freePort()}`, insecure: true, retry: fast });
  await t.rejects(closed.ping(), { code: 'UNREACHABLE', message: /ECONNREFUSED/ });
});

t.test('a Docker manifest list is verified like an OCI index; Accept lists all four types', async (t) => {
  const blob = (s: string) => ({ body: s, digest: `sha256:${createHash('sha256').update(s).digest('hex')}` });
  const config = blob('{"os":"linux","architecture":"arm64","variant":"v8"}');
  const layer = blob('layer-bytes');
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config.digest, size: config.body.length },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer.digest, size: layer.body.length }],
  }));
  const list = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: manifest.digest, size: manifest.body.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
  }));
  const accepts: string[] = [];
  const srv = await serve(t, (req, res, url) => {
    if (url.pathname.includes('/manifests/')) {
      accepts.push(String(req.headers.accept));
      const ref = url.pathname.split('/').pop();
      const doc = ref === 'v1' || ref === list.digest ? list : ref === manifest.digest ? manifest : undefined;
      if (!doc) return res.writeHead(404).end();
      return res.writeHead(200, { 'content-type': JSON.parse(doc.body).mediaType, 'docker-content-digest': doc.digest }).end(doc.body);
    }
    const d = url.pathname.split('/').pop();
    const b = [config, layer].find((x) => x.digest === d);
    if (!b) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': String(b.body.length) }).end(req.method === 'HEAD' ? undefined : b.body);
  });
  const deps = { clientFor: (host: string) => new RegistryClient({ host, insecure: true, retry: fast }), log: () => {} };
  const report = await verifyImages({ images: [`${srv.host}/a/b:v1`], expectedDigest: list.digest, platforms: ['linux/arm64'], pull: true, repair: false }, deps);
  t.same(report.failures, []);
  t.equal(report.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  t.same(report.platforms.map((p) => p.platform), ['linux/arm64/v8']);
  for (const type of ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json']) {
    t.ok(accepts.every((a) => a.includes(type)), `Accept lists ${type}`);
  }
});
