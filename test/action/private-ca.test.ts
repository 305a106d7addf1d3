// A registry with a private CA: the reference server serving HTTPS with a certificate signed by a CA made
// here with openssl. `nitro-registry verify --ca-cert`, NODE_EXTRA_CA_CERTS, and the `ca-cert` input of
// the verify/, root and login/ actions (bundles run as the runner runs them; the root and login actions
// install the CA for the Docker daemon under NITRO_DOCKER_CERTS_D and remove it in post).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { bundleEnv, LOGIN_ACTION, PASSWORD, ROOT_ACTION, root, VERIFY_ACTION } from './helpers/bundle-fixture.js';
import { runNitroCli } from './helpers/cli.js';
import { buildOciLayout, skopeoPush } from './helpers/oci-layout.js';
import { makePrivateCa } from './helpers/private-ca.js';
import { referenceServerUnavailableReason, startReferenceServer } from './helpers/reference-server.js';
import { runActionStep } from './helpers/runner.js';

t.setTimeout(600_000);

const notBuilt = referenceServerUnavailableReason() ?? (existsSync(join(root, 'dist/index.mjs')) ? undefined : 'dist/ is not built (npm run build:action)');
if (notBuilt) {
  t.fail(notBuilt);
} else {
  const ca = makePrivateCa();
  t.teardown(() => ca.dispose());
  const registry = await startReferenceServer(['--tls-cert', ca.certFile, '--tls-key', ca.keyFile], { NITRO_REGISTRY_ADMIN_PASSWORD: PASSWORD });
  t.teardown(() => registry.stop());
  t.match(registry.url, /^https:\/\//, 'the registry serves HTTPS');
  const layout = buildOciLayout(['linux/amd64', 'linux/arm64']);
  t.teardown(() => rmSync(layout.dir, { recursive: true, force: true }));
  const image = `${registry.host}/tls/app:v1`;
  skopeoPush(layout, image, 'latest', { username: 'admin', password: PASSWORD });
  const noDockerConfig = mkdtempSync(join(tmpdir(), 'nitro-empty-docker-config-'));
  t.teardown(() => rmSync(noDockerConfig, { recursive: true, force: true }));
  const cliEnv = { DOCKER_CONFIG: noDockerConfig, NODE_EXTRA_CA_CERTS: undefined };
  const verifyArgs = ['verify', '--image', image, '--digest', layout.indexDigest, '--platforms', 'linux/amd64,linux/arm64', '--username', 'admin', '--password-stdin'];

  t.test('nitro-registry verify: a TLS error without the CA; verified with --ca-cert or NODE_EXTRA_CA_CERTS', async (t) => {
    const without = await runNitroCli(verifyArgs, { env: cliEnv, stdin: PASSWORD });
    t.equal(without.code, 1);
    t.match(without.stdout, /TLS_ERROR/);
    t.match(without.stdout, /ca-cert/, 'the failure says what to do');
    const withFlag = await runNitroCli([...verifyArgs, '--ca-cert', ca.caFile, '--pull'], { env: cliEnv, stdin: PASSWORD });
    t.equal(withFlag.code, 0, withFlag.stdout + withFlag.stderr);
    t.match(withFlag.stdout, /Image verification: ✅ verified/);
    const withEnv = await runNitroCli(verifyArgs, { env: { ...cliEnv, NODE_EXTRA_CA_CERTS: ca.caFile }, stdin: PASSWORD });
    t.equal(withEnv.code, 0, withEnv.stdout + withEnv.stderr);
    const badFile = await runNitroCli([...verifyArgs, '--ca-cert', join(ca.dir, 'missing.pem')], { env: cliEnv, stdin: PASSWORD });
    t.equal(badFile.code, 2);
    t.match(badFile.stderr, /--ca-cert: cannot read .*missing\.pem \(ENOENT\)/);
  });

  const setup = (t: Test) => {
    const fixture = bundleEnv(t, layout);
    const certsD = mkdtempSync(join(tmpdir(), 'nitro-certs-d-'));
    t.teardown(() => rmSync(certsD, { recursive: true, force: true }));
    return { ...fixture, certsD, env: { ...fixture.env, NITRO_DOCKER_CERTS_D: certsD, NODE_EXTRA_CA_CERTS: undefined } };
  };

  t.test('verify/ sub-action: ca-cert as PEM text', async (t) => {
    const { env } = setup(t);
    const inputs = { images: image, digest: layout.indexDigest, username: 'admin', password: PASSWORD };
    const without = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs, env });
    t.equal(without.code, 1);
    t.match(without.stdout, /Image verification%3A TLS_ERROR/);
    const ok = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs: { ...inputs, 'ca-cert': ca.caPem }, env });
    t.equal(ok.code, 0, ok.stdout.slice(-1500));
    t.equal(ok.outputs.verified, 'true');
  });

  t.test('root action: the CA is trusted by the verification, installed for the daemon during the job, removed in post', async (t) => {
    const { docker, env: base, certsD } = setup(t);
    // Pushed beforehand with credentials; the fake build then only writes buildx's metadata file.
    skopeoPush(layout, `${registry.host}/tls/root:v1`, 'latest', { username: 'admin', password: PASSWORD });
    const env = { ...base, FAKE_DOCKER_LAYOUT: undefined };
    const inputs = {
      registry: registry.host,
      username: 'admin',
      password: PASSWORD,
      'ca-cert': ca.caFile,
      context: '.',
      tags: `${registry.host}/tls/root:v1`,
      platforms: 'linux/amd64,linux/arm64',
      'create-builder': 'true',
    };
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs, env });
    t.equal(main.code, 0, main.stdout.slice(-2000));
    t.equal(main.outputs.verified, 'true');
    const installed = join(certsD, registry.host, 'nitro-registry-ca.crt');
    t.equal(readFileSync(installed, 'utf8'), ca.caPem, 'the daemon finds the CA under certs.d/<host>/');
    const create = docker.calls().find((c) => c.args[1] === 'create');
    t.match(create?.buildkitdConfig ?? '', new RegExp(`\\[registry\\."${registry.host.replace(/\./g, '\\.')}"\\]\\n  ca = \\[".*registry-ca\\.pem"\\]`), 'the builder gets the CA in its buildkitd config');
    const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs, env, state: main.state });
    t.equal(post.code, 0, post.stdout);
    t.notOk(existsSync(installed), 'removed in post');
    t.same(readdirSync(certsD), [], 'and the host directory it created');
  });

  t.test('login/ sub-action: the CA is installed for the daemon before docker login and removed in post', async (t) => {
    const { docker, env, certsD } = setup(t);
    const inputs = { registry: registry.host, username: 'admin', password: PASSWORD, 'ca-cert': ca.caPem };
    const main = await runActionStep({ actionYml: LOGIN_ACTION, phase: 'main', inputs, env });
    t.equal(main.code, 0, main.stdout);
    t.equal(readFileSync(join(certsD, registry.host, 'nitro-registry-ca.crt'), 'utf8'), ca.caPem);
    t.same(docker.calls().map((c) => c.args[0]), ['login']);
    const post = await runActionStep({ actionYml: LOGIN_ACTION, phase: 'post', inputs, env, state: main.state });
    t.equal(post.code, 0);
    t.same(readdirSync(certsD), []);
  });
}
