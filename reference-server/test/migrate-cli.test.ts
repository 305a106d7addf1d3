/**
 * `nitro-registry migrate`: --check on both databases, and --from-sqlite: a registry pushed to over HTTP
 * on SQLite, copied into an empty PostgreSQL database, served from it on the same data directory — the
 * same digests come back, and accounts, tokens and keys came along. Runs the built CLI (npm run build).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { registryFixture, pushTree, getRaw } from './helpers/registry.js';
import { postgresDatabase } from './helpers/postgres.js';
import { scaleoutSkip } from './helpers/scaleout-env.js';
import { artifact, multiPlatformIndex, ociImage, allBlobs } from './helpers/oci.js';
import { openSqliteBackend } from '../src/metadata/sqlite/index.js';
import { openPostgresBackend } from '../src/metadata/postgres/index.js';

const BIN = fileURLToPath(new URL('../../bin/nitro-registry.js', import.meta.url));

function cli(args: string[], env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.NITRO_REGISTRY_DATABASE_URL;
  delete clean.NITRO_REGISTRY_CONFIG;
  const r = spawnSync(process.execPath, [BIN, 'migrate', ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('--help describes every option', async (t) => {
  const r = cli(['--help']);
  t.equal(r.code, 0);
  for (const s of ['--check', '--from-sqlite PATH', '--config FILE', '--data DIR', 'Exit codes']) t.match(r.stdout, s);
});

t.test('on SQLite: --check reports an up-to-date file; a missing one is a usage error', async (t) => {
  const f = await registryFixture(t, { database: { url: null } });
  t.equal(cli(['--check', '--data', f.dataDir]).code, 0);
  t.equal(cli(['--data', f.dataDir]).code, 0);
  const missing = cli(['--check', '--data', `${f.dataDir}/nope`]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /does not exist/);
});

t.test('--from-sqlite: push on SQLite, copy, serve on PostgreSQL, pull the same digests', { skip: scaleoutSkip('postgres') }, async (t) => {
  const f = await registryFixture(t, { database: { url: null }, storage: { driver: 'filesystem' } });
  const image = ociImage();
  const index = multiPlatformIndex();
  const sbom = artifact({ artifactType: 'application/spdx+json', subject: image });
  await pushTree(f.request, 'team/app', image, 'v1');
  await pushTree(f.request, 'team/app', index, 'multi');
  await pushTree(f.request, 'team/app', sbom);
  await pushTree(f.request, 'other', image, 'copy');

  // Accounts, a token and a signing key, as the auth layer would have stored them.
  const side = openSqliteBackend(f.dataDir);
  await side.accounts.insertUser({ username: 'ann', passwordHash: 'scrypt$x', admin: true, createdAt: 1 });
  const tokenId = await side.accounts.insertToken({ username: 'ann', name: 'ci', tokenHash: 'h'.repeat(64), scopes: ['repository:team/app:pull'], expiresAt: null, createdAt: 2 });
  await side.accounts.setMember('team', 'ann', 'admin');
  await side.keys.add({ kid: 'k1', alg: 'ES256', privatePem: 'pem', createdAt: 3, active: true, retiredAt: null }, { onlyIfNone: true });
  await side.close();

  const url = await postgresDatabase(t);
  const env = { NITRO_REGISTRY_DATABASE_URL: url };
  const check = cli(['--check'], env);
  t.equal(check.code, 1, '--check on an empty database: pending');
  t.match(check.stdout, /pending: 1 initial schema/);

  const copy = cli(['--from-sqlite', f.dataDir], env);
  t.equal(copy.code, 0, copy.stderr);
  t.match(copy.stdout, /manifests\s+\d+/);
  t.equal(cli(['--check'], env).code, 0, 'nothing pending after the copy');
  const again = cli(['--from-sqlite', f.dataDir], env);
  t.equal(again.code, 1, 'a second copy is refused');
  t.match(again.stderr, /not empty/);

  await f.restart({ database: { url } });
  t.equal(f.registry.backends.metadata.kind, 'postgres', 'now served from PostgreSQL');
  for (const [repo, ref, digest] of [
    ['team/app', 'v1', image.digest],
    ['team/app', 'multi', index.digest],
    ['other', 'copy', image.digest],
  ] as const) {
    const res = await getRaw(f.request, `/v2/${repo}/manifests/${ref}`).set('Accept', [image.mediaType, index.mediaType].join(', '));
    t.equal(res.status, 200, `${repo}:${ref}`);
    t.equal(res.headers['docker-content-digest'], digest, `${repo}:${ref} names the same digest`);
  }
  for (const b of allBlobs(index)) {
    const res = await getRaw(f.request, `/v2/team/app/blobs/${b.digest}`);
    t.equal(res.status, 200);
    t.ok(Buffer.from(res.body as Buffer).equals(b.bytes), 'blob bytes served');
  }
  const referrers = await f.request.get(`/v2/team/app/referrers/${image.digest}`);
  t.same(referrers.body.manifests.map((m: { digest: string }) => m.digest), [sbom.digest], 'referrers came along');
  const tags = await f.request.get('/v2/team/app/tags/list');
  t.same(tags.body.tags, ['multi', 'v1']);

  const pg = await openPostgresBackend({ url, poolSize: 2, migrate: false });
  t.teardown(() => pg.close());
  t.match(await pg.accounts.getUser('ann'), { admin: true, passwordHash: 'scrypt$x' });
  t.match(await pg.accounts.tokenByHash('h'.repeat(64)), { id: tokenId, scopes: ['repository:team/app:pull'] });
  t.equal(await pg.accounts.roleIn('team', 'ann'), 'admin');
  t.match(await pg.keys.list(), [{ kid: 'k1', active: true }]);
  const next = await pg.accounts.insertToken({ username: 'ann', name: 'ci2', tokenHash: 'i'.repeat(64), scopes: null, expiresAt: null, createdAt: 4 });
  t.ok(next !== null && next > tokenId!, 'token ids continue after the copied ones');
});
