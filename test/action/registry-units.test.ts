// Pure pieces of the registry client and the verifier: image references, platforms, retry policy,
// auth challenges, docker config credentials.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseAuthChallenge } from '../../src/registry/auth-challenge.js';
import { credentialsFromDockerConfig } from '../../src/registry/docker-config-auth.js';
import { apiHost, isLoopbackHost, parseImageRef, registryHost } from '../../src/registry/image-ref.js';
import { parseRetryAfter, retryDelay } from '../../src/registry/retry.js';
import { normalizePlatform, parsePlatform, samePlatform } from '../../src/verify/platform.js';

t.test('image references: the host is the part before the first slash', async (t) => {
  t.same(parseImageRef('127.0.0.1:5000/a/b:v1'), { host: '127.0.0.1:5000', repository: 'a/b', tag: 'v1', digest: undefined });
  t.same(parseImageRef('nitro.example.com/storage/repo/app:1.0'), { host: 'nitro.example.com', repository: 'storage/repo/app', tag: '1.0', digest: undefined });
  t.same(parseImageRef('localhost/app'), { host: 'localhost', repository: 'app', tag: undefined, digest: undefined });
  t.same(parseImageRef('nginx'), { host: 'docker.io', repository: 'library/nginx', tag: undefined, digest: undefined });
  t.same(parseImageRef('user/app:1'), { host: 'docker.io', repository: 'user/app', tag: '1', digest: undefined });
  const d = `sha256:${'b'.repeat(64)}`;
  t.same(parseImageRef(`ghcr.io/o/a:1@${d}`), { host: 'ghcr.io', repository: 'o/a', tag: '1', digest: d });
  t.throws(() => parseImageRef('Reg.example/UPPER:1'), /invalid repository name/);
  t.throws(() => parseImageRef('r.example/a:bad tag'), /invalid tag/);
  t.equal(registryHost('https://r.example:5000/storage/'), 'r.example:5000');
  t.equal(registryHost(''), 'docker.io');
  t.equal(apiHost('docker.io'), 'registry-1.docker.io');
  t.ok(isLoopbackHost('127.0.0.1:5000'));
  t.ok(isLoopbackHost('localhost:1'));
  t.notOk(isLoopbackHost('10.0.0.1:5000'));
});

t.test('platform matching normalises variants and architecture aliases', async (t) => {
  t.equal(normalizePlatform(parsePlatform('linux/arm64/v8')), 'linux/arm64');
  t.ok(samePlatform('linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  t.ok(samePlatform('linux/arm64/v8', { os: 'linux', architecture: 'arm64' }));
  t.ok(samePlatform('linux/amd64', { os: 'linux', architecture: 'amd64', variant: 'v1' }));
  t.ok(samePlatform('linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }));
  t.ok(samePlatform('linux/aarch64', { os: 'linux', architecture: 'arm64' }));
  t.notOk(samePlatform('linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }));
  t.notOk(samePlatform('linux/amd64/v3', { os: 'linux', architecture: 'amd64' }), 'a non-default variant is significant');
  t.notOk(samePlatform('windows/amd64', { os: 'linux', architecture: 'amd64' }));
  t.throws(() => parsePlatform('linux'), /invalid platform/);
});

t.test('retry: lag 404s, 429 (Retry-After) and 5xx only; never 401/403; bounded', async (t) => {
  const policy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };
  const ctx = (status: number, lag = false, retryAfter: string | null = null) => ({ status, notFoundMayBeLag: lag, retryAfter });
  t.equal(retryDelay(ctx(404, true), 1, policy), 100);
  t.equal(retryDelay(ctx(404, true), 2, policy), 200);
  t.equal(retryDelay(ctx(404, true), 3, policy), undefined, 'attempts exhausted');
  t.equal(retryDelay(ctx(404, false), 1, policy), undefined, 'a missing blob is not lag');
  t.equal(retryDelay(ctx(503), 1, policy), 100);
  t.equal(retryDelay(ctx(429, false, '2'), 1, policy), 2000, 'Retry-After seconds honoured');
  t.equal(retryDelay(ctx(429), 2, policy), 200, 'no Retry-After: backoff');
  t.equal(retryDelay(ctx(401), 1, policy), undefined);
  t.equal(retryDelay(ctx(403), 1, policy), undefined);
  t.equal(retryDelay(ctx(400), 1, policy), undefined);
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
  t.equal(parseRetryAfter('soon'), undefined);
});

t.test('WWW-Authenticate challenges', async (t) => {
  t.same(parseAuthChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  t.same(parseAuthChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  t.equal(parseAuthChallenge('Negotiate abc'), undefined);
  t.equal(parseAuthChallenge(null), undefined);
});

t.test('credentials docker login stored (DOCKER_CONFIG)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-dc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { 'r.example:5000': { auth: Buffer.from('bob:pa:ss').toString('base64') }, 'https://index.docker.io/v1/': { auth: Buffer.from('hub:tok').toString('base64') } } }),
  );
  t.same(credentialsFromDockerConfig('r.example:5000', { DOCKER_CONFIG: dir }), { username: 'bob', password: 'pa:ss' });
  t.same(credentialsFromDockerConfig('docker.io', { DOCKER_CONFIG: dir }), { username: 'hub', password: 'tok' });
  t.equal(credentialsFromDockerConfig('other.example', { DOCKER_CONFIG: dir }), undefined);
  t.equal(credentialsFromDockerConfig('r.example:5000', { DOCKER_CONFIG: join(dir, 'missing') }), undefined);
});

t.test('an identity token docker login stored is returned beside the "user:" entry; a helper\'s "<token>" user means the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-dc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // What `docker login` writes when the token endpoint issued a refresh token: the password is dropped.
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('admin:').toString('base64'), identitytoken: 'nrr_refresh' } }, credHelpers: { 'helper.example': 'nitro-test' } }),
  );
  t.same(credentialsFromDockerConfig('127.0.0.1:5000', { DOCKER_CONFIG: dir }), { username: 'admin', password: '', identityToken: 'nrr_refresh' });
  // A credential helper answering Username "<token>" (docker-credential-helpers' convention).
  const bin = mkdtempSync(join(tmpdir(), 'nitro-helper-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  writeFileSync(join(bin, 'docker-credential-nitro-test'), '#!/bin/sh\nread url\nprintf \'{"ServerURL":"%s","Username":"<token>","Secret":"helper-refresh"}\' "$url"\n', { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.teardown(() => void (process.env.PATH = path));
  t.same(credentialsFromDockerConfig('helper.example', { DOCKER_CONFIG: dir }), { username: '', password: '', identityToken: 'helper-refresh' });
});
