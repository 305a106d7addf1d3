// The configuration layers: YAML file < environment (OCI_* and NITRO_* names) < CLI inputs.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../conformance/src/config.js';

t.test('YAML declares everything; env overrides it; CLI inputs override env', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nitro-conf-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.yml');
  await writeFile(
    file,
    `url: http://127.0.0.1:1/
credentials: { username: yaml-user, password: yaml-pass }
namespaces: { push: team/conf, crossmount: team/other }
features: { referrers: false, sha512: true, mount_without_from: true }
push_rules:
  tag_overwrite: { repository: immutable }
  project_member: { repository: members, non_member: { username: eve, password: x } }
  auth_token: { repository: tokens, token: { username: bot, password: t0k }, password: { username: bot, password: pw } }
gc: { trigger: command, command: "gc {dryRun}", grace_seconds: 3 }
`,
  );
  const c = await loadConfig({ configPath: file, env: {} });
  t.equal(c.url, 'http://127.0.0.1:1', 'trailing slash removed');
  t.same(c.credentials, { username: 'yaml-user', password: 'yaml-pass' });
  t.equal(c.namespace, 'team/conf');
  t.equal(c.crossmountNamespace, 'team/other');
  t.equal(c.features.referrers, false);
  t.equal(c.features.sha512, true);
  t.equal(c.features.mountWithoutFrom, true);
  t.equal(c.features.deletes, undefined, 'unset features are left to probing');
  t.equal(c.pushRules.tagOverwrite?.repository, 'immutable');
  t.same(c.pushRules.projectMember?.nonMember, { username: 'eve', password: 'x' });
  t.same(c.pushRules.authToken?.token, { username: 'bot', password: 't0k' });
  t.same(c.gc, { trigger: 'command', command: 'gc {dryRun}', graceSeconds: 3 });
  t.same(c.hooks?.actions.gc, { command: 'gc {dryRun}' }, 'the old gc.command becomes the gc hook');

  const e = await loadConfig({
    configPath: file,
    url: 'http://127.0.0.1:2',
    env: {
      OCI_ROOT_URL: 'http://127.0.0.1:9',
      OCI_USERNAME: 'env-user',
      OCI_PASSWORD: 'env-pass',
      OCI_NAMESPACE: 'env/ns',
      OCI_CROSSMOUNT_NAMESPACE: 'env/mount',
      OCI_DEBUG: '1',
      OCI_HIDE_SKIPPED_WORKFLOWS: 'true',
      OCI_DELETE_MANIFEST_BEFORE_BLOBS: '0',
      OCI_REPORT_DIR: '/tmp/x',
      NITRO_EXPECT_REFERRERS: '1',
      NITRO_GC_TRIGGER: 'none',
      NITRO_CONCURRENCY: '1',
    },
  });
  t.equal(e.url, 'http://127.0.0.1:2', '--url beats OCI_ROOT_URL');
  t.same(e.credentials, { username: 'env-user', password: 'env-pass' });
  t.equal(e.namespace, 'env/ns');
  t.equal(e.crossmountNamespace, 'env/mount');
  t.equal(e.debug, true);
  t.equal(e.hideSkipped, true);
  t.equal(e.deleteManifestBeforeBlobs, false);
  t.equal(e.reportDir, '/tmp/x');
  t.equal(e.features.referrers, true, 'NITRO_EXPECT_REFERRERS overrides the file');
  t.equal(e.gc.trigger, 'none');
  t.equal(e.concurrency, 1);
});

t.test('OCI_TEST_* workflow switches select areas; --only wins', async (t) => {
  const c = await loadConfig({ url: 'http://localhost', env: { OCI_TEST_CONTENT_DISCOVERY: '1', OCI_TEST_PULL: '1' } });
  t.same(c.only.sort(), ['api', 'discovery', 'pull-push']);
  const d = await loadConfig({ url: 'http://localhost', only: ['gc'], env: { OCI_TEST_PULL: '1' } });
  t.same(d.only, ['gc']);
  t.equal(d.level, 'MUST', 'default level');
});

t.test('plain HTTP only to loopback unless insecure; host:port alone picks the scheme like Docker', async (t) => {
  t.equal((await loadConfig({ url: 'http://127.0.0.1:5000', env: {} })).url, 'http://127.0.0.1:5000');
  t.equal((await loadConfig({ url: 'http://localhost:5000', env: {} })).url, 'http://localhost:5000');
  t.equal((await loadConfig({ url: 'http://[::1]:5000', env: {} })).url, 'http://[::1]:5000');
  t.equal((await loadConfig({ url: '127.0.0.1:5000', env: {} })).url, 'http://127.0.0.1:5000');
  t.equal((await loadConfig({ url: 'registry.example.com', env: {} })).url, 'https://registry.example.com');
  await t.rejects(loadConfig({ url: 'http://registry.example.com', env: {} }), /refusing plain HTTP.*--insecure/);
  t.equal((await loadConfig({ url: 'http://registry.example.com', insecure: true, env: {} })).url, 'http://registry.example.com');
  t.equal((await loadConfig({ url: 'http://10.0.0.5:5000', env: { NITRO_INSECURE: '1' } })).url, 'http://10.0.0.5:5000');
});

t.test('credentials from the Docker config: auth entry, and identitytoken as an OAuth2 refresh token', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nitro-conf-docker-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      auths: {
        '127.0.0.1:5000': { auth: Buffer.from('alice:s3cret').toString('base64') },
        '127.0.0.1:5001': { auth: Buffer.from('bob:').toString('base64'), identitytoken: 'refresh-xyz' },
      },
    }),
  );
  const a = await loadConfig({ url: 'http://127.0.0.1:5000', env: { DOCKER_CONFIG: dir } });
  t.same(a.credentials, { username: 'alice', password: 's3cret' });
  t.match(a.credentialSource, /config\.json/);
  const b = await loadConfig({ url: 'http://127.0.0.1:5001', env: { DOCKER_CONFIG: dir } });
  t.same(b.credentials, { username: 'bob', password: '', identityToken: 'refresh-xyz' });
  const c = await loadConfig({ url: 'http://127.0.0.1:5001', env: { DOCKER_CONFIG: dir, OCI_USERNAME: 'u', OCI_PASSWORD: 'p' } });
  t.same(c.credentials, { username: 'u', password: 'p' }, 'OCI_USERNAME/OCI_PASSWORD win');
  const d = await loadConfig({ url: 'http://127.0.0.1:5001', env: { DOCKER_CONFIG: dir, NITRO_DOCKER_CONFIG: '0' } });
  t.equal(d.credentials, undefined, 'NITRO_DOCKER_CONFIG=0 ignores it');
});

t.test('bad input is refused with a message', async (t) => {
  await t.rejects(loadConfig({ url: 'http://localhost', level: 'sometimes', env: {} }), /--level must be/);
  await t.rejects(loadConfig({ url: 'http://localhost', configPath: '/nonexistent/c.yml', env: {} }), /cannot read config file/);
  await t.rejects(loadConfig({ env: {} }), /no registry URL/);
  await t.rejects(loadConfig({ url: 'http://localhost', env: { NITRO_GC_TRIGGER: 'cron' } }), /gc.trigger must be/);
  await t.rejects(loadConfig({ url: 'http://localhost', env: { NITRO_GC_GRACE_SECONDS: 'soon' } }), /not a number/);
});
