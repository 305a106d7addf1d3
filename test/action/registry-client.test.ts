// The registry client against small fake registries on 127.0.0.1:0: Bearer token flow (Basic credentials
// or a Docker identity token), Basic, auth failures (never retried), retries for 429/5xx/read-after-write
// 404, network error classification, plain HTTP on loopback, the overall deadline, and a Docker
// manifest list (Accept lists all four manifest types).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { RegistryClient, RegistryError } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { verifyImages } from '../../src/verify/verify-image.js';
import { freePort } from './helpers/free-port.js';
import { makePrivateCa } from './helpers/private-ca.js';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function serve(t: Test, handler: Handler): Promise<{ host: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization ?? '-'}`);
    handler(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Idle keep-alive connections of the client's pool would hold close() for seconds.
  t.teardown(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));
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

/** A transport whose resolver sends every host name to 127.0.0.1: a non-loopback name for a local server. */
const resolveToLoopback = (options: ConstructorParameters<typeof Transport>[0] = {}) =>
  new Transport({
    ...options,
    connect: {
      lookup: (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        opts?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
    },
  });

t.test('network errors say what is wrong: plain HTTP on a non-loopback host without insecure, unreachable', async (t) => {
  const srv = await serve(t, (_req, res) => res.writeHead(200).end());
  const port = srv.host.split(':')[1];
  const remote = new RegistryClient({ host: `registry.test:${port}`, retry: fast, transport: resolveToLoopback() });
  await t.rejects(remote.ping(), { code: 'PLAIN_HTTP', message: /set `insecure: true`/ });
  t.equal(srv.requests.length, 0, 'no request went out over plain HTTP');
  const insecure = new RegistryClient({ host: `registry.test:${port}`, insecure: true, retry: fast, transport: resolveToLoopback() });
  await insecure.ping();
  t.equal(srv.requests.length, 1, 'with insecure: plain HTTP');
  const closed = new RegistryClient({ host: `127.0.0.1:${await freePort()}`, insecure: true, retry: fast });
  await t.rejects(closed.ping(), { code: 'UNREACHABLE', message: /ECONNREFUSED/ });
});

t.test('a loopback registry may answer in plain HTTP without insecure (as with Docker and BuildKit)', async (t) => {
  const srv = await serve(t, (_req, res) => res.writeHead(200).end());
  for (const host of [srv.host, `localhost:${srv.host.split(':')[1]}`]) {
    const logs: string[] = [];
    const client = new RegistryClient({ host, retry: fast, onRetry: (m) => logs.push(m) });
    t.equal(client.baseUrl, `https://${host}`, 'HTTPS is tried first');
    await client.ping();
    t.equal(client.baseUrl, `http://${host}`, `${host}: switched to http://`);
    t.match(logs.join('\n'), /loopback registry answering in plain HTTP: using http:\/\//);
    await client.ping();
  }
  t.equal(srv.requests.length, 4, 'one plain-HTTP request per ping (the TLS attempts never reached the HTTP server as requests)');
});

t.test('a loopback registry with TLS stays on HTTPS, and a private CA is trusted only when given', async (t) => {
  const ca = makePrivateCa();
  t.teardown(() => ca.dispose());
  const server = createHttpsServer({ cert: readFileSync(ca.certFile), key: readFileSync(ca.keyFile) }, (_req, res) => res.writeHead(200).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const untrusted = new RegistryClient({ host, retry: fast });
  await t.rejects(untrusted.ping(), { code: 'TLS_ERROR', message: /ca-cert/ });
  t.equal(untrusted.baseUrl, `https://${host}`, 'a TLS error is no reason to fall back to plain HTTP');
  const trusted = new RegistryClient({ host, retry: fast, transport: new Transport({ caCert: ca.caPem }) });
  await trusted.ping();
  t.equal(trusted.baseUrl, `https://${host}`);
});

t.test('identity token (docker login\'s refresh token): POST grant_type=refresh_token at the realm, never Basic', async (t) => {
  let host = '';
  const forms: URLSearchParams[] = [];
  const srv = await serve(t, (req, res, url) => {
    if (url.pathname === '/token') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        forms.push(form);
        const ok = req.method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded' && form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === 'refresh-secret';
        if (!ok) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${form.get('scope')}`, token_type: 'Bearer' }));
      });
      return;
    }
    if (req.headers.authorization !== 'Bearer tok-repository:a/b:pull') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="reg.test",scope="repository:a/b:pull"` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{}');
  });
  host = srv.host;
  const client = new RegistryClient({ host, insecure: true, retry: fast, credentials: { username: 'alice', password: '', identityToken: 'refresh-secret' } });
  t.equal((await client.getManifest('a/b', 'v1'))?.bytes.toString(), '{}');
  t.equal(forms[0].get('service'), 'reg.test');
  t.equal(forms[0].get('scope'), 'repository:a/b:pull');
  t.equal(forms[0].get('client_id'), 'nitro-registry');
  t.ok(srv.requests.every((r) => !r.includes('Basic')), 'no Basic header with an empty password anywhere');
  t.ok(srv.requests.every((r) => !r.includes('refresh-secret')), 'the refresh token is never in a URL or header');

  const stale = new RegistryClient({ host, insecure: true, retry: fast, credentials: { username: 'alice', password: '', identityToken: 'revoked' } });
  await t.rejects(stale.getManifest('a/b', 'v1'), { code: 'AUTH_FAILED', message: /identity token docker login stored for 127\.0\.0\.1:\d+ \(expired or revoked\? run docker login again\)/ });

  const basicOnly = await serve(t, (_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end());
  const mismatch = new RegistryClient({ host: basicOnly.host, insecure: true, retry: fast, credentials: { username: 'alice', password: '', identityToken: 'x' } });
  await t.rejects(mismatch.ping(), { code: 'AUTH_FAILED', message: /asks for Basic auth, but docker login stored only an identity token/ });
});

t.test('the overall deadline ends a request that never answers, a stalled body and a long Retry-After', async (t) => {
  const hung: ServerResponse[] = [];
  const srv = await serve(t, (_req, res, url) => {
    if (url.pathname.endsWith('/hang')) return void hung.push(res); // never answers
    if (url.pathname.includes('/blobs/')) {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(10)); // then stalls with 990 bytes to go
      hung.push(res);
      return;
    }
    res.writeHead(429, { 'retry-after': '3600' }).end();
  });
  t.teardown(() => hung.forEach((r) => r.destroy()));
  const client = (ms: number) => new RegistryClient({ host: srv.host, insecure: true, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 3_600_000 }, transport: new Transport({ deadlineMs: ms }) });
  await t.rejects(client(300).request('/v2/a/manifests/hang', { scope: '' }), { code: 'TIMEOUT', message: /overall deadline of 300 ms passed/ });
  await t.rejects(client(300).hashBlob('a', 'sha256:00'), { code: 'TIMEOUT' });
  await t.rejects(client(300).getManifest('a', 'v1'), { code: 'TIMEOUT', message: /retrying|deadline/ });
  const report = await verifyImages(
    { images: [`${srv.host}/a:hang`], platforms: [], pull: false, repair: false },
    { clientFor: (host) => new RegistryClient({ host, insecure: true, transport: new Transport({ deadlineMs: 300 }) }), log: () => {} },
  );
  t.same(report.failures.map((f) => f.code), ['TIMEOUT'], 'verification reports the deadline as a failure instead of hanging');
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
