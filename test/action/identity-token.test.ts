// `docker login` against the reference server stores an identity token (an OAuth2 refresh token) instead
// of the password. Verification must use it (grant_type=refresh_token) — `nitro-registry verify`, the
// verify/ sub-action and the root action without username — instead of failing with
// "AUTH_FAILED: token endpoint answered 401". Needs the real Docker CLI and engine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bundleEnv, ROOT_ACTION, VERIFY_ACTION } from './helpers/bundle-fixture.js';
import { runNitroCli } from './helpers/cli.js';
import { dockerUnavailableReason, REQUIRE_DOCKER } from './helpers/docker-engine.js';
import { buildOciLayout, skopeoPush } from './helpers/oci-layout.js';
import { referenceServerUnavailableReason, startReferenceServer } from './helpers/reference-server.js';
import { runActionStep } from './helpers/runner.js';

t.setTimeout(600_000);
const PASSWORD = 'identity-Pa55word';

const problem = dockerUnavailableReason() ?? referenceServerUnavailableReason();
if (problem && !REQUIRE_DOCKER) {
  t.plan(0, `identity-token test skipped: ${problem} (set REQUIRE_DOCKER=1 to make this a failure)`);
} else if (problem) {
  t.fail(`REQUIRE_DOCKER=1 but ${problem}`);
} else {
  // Private: anonymous pull must not be what makes verification pass.
  const configDir = mkdtempSync(join(tmpdir(), 'nitro-identity-config-'));
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  writeFileSync(join(configDir, 'config.yaml'), 'repositories:\n  - name: default\n    visibility: private\n');
  const registry = await startReferenceServer(['--config', join(configDir, 'config.yaml')], { NITRO_REGISTRY_ADMIN_PASSWORD: PASSWORD });
  t.teardown(() => registry.stop());

  const layout = buildOciLayout(['linux/amd64', 'linux/arm64']);
  t.teardown(() => rmSync(layout.dir, { recursive: true, force: true }));
  const image = `${registry.host}/identity/app:v1`;
  skopeoPush(layout, image, 'latest', { username: 'admin', password: PASSWORD });
  const anonymousAfter = await fetch(`http://${registry.host}/v2/identity/app/manifests/v1`);
  await anonymousAfter.body?.cancel();
  t.equal(anonymousAfter.status, 401, 'the image is not readable anonymously');

  // A real `docker login` (the engine talks to the registry), into a config of our own.
  const dockerConfig = mkdtempSync(join(tmpdir(), 'nitro-identity-docker-config-'));
  t.teardown(() => rmSync(dockerConfig, { recursive: true, force: true }));
  const login = spawnSync('docker', ['login', '--username', 'admin', '--password-stdin', registry.host], {
    input: PASSWORD,
    encoding: 'utf8',
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    timeout: 60_000,
  });
  t.equal(login.status, 0, `docker login: ${login.stderr}`);
  const stored = JSON.parse(readFileSync(join(dockerConfig, 'config.json'), 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> };
  const entry = stored.auths[registry.host];
  t.ok(entry?.identitytoken, 'docker login stored an identity token (the registry issued a refresh token)');
  t.equal(Buffer.from(entry?.auth ?? '', 'base64').toString(), 'admin:', 'and no password: only the identity token can authenticate');

  t.test('nitro-registry verify uses the identity token from DOCKER_CONFIG', async (t) => {
    const r = await runNitroCli(['verify', '--image', image, '--digest', layout.indexDigest, '--platforms', 'linux/amd64,linux/arm64', '--pull'], { env: { DOCKER_CONFIG: dockerConfig } });
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.match(r.stdout, /Image verification: ✅ verified/);
    t.notMatch(r.stdout, /AUTH_FAILED/);
  });

  t.test('a revoked identity token fails with a message that says what to do', async (t) => {
    const other = mkdtempSync(join(tmpdir(), 'nitro-identity-bad-'));
    t.teardown(() => rmSync(other, { recursive: true, force: true }));
    const bad = { auths: { [registry.host]: { auth: entry!.auth, identitytoken: `${entry!.identitytoken}x` } } };
    writeFileSync(join(other, 'config.json'), JSON.stringify(bad));
    const r = await runNitroCli(['verify', '--image', image], { env: { DOCKER_CONFIG: other } });
    t.equal(r.code, 1);
    t.match(r.stdout, /AUTH_FAILED.*identity token docker login stored for .*run docker login again/);
  });

  t.test('verify/ sub-action and the root action (no username: credentials from docker login) use it too', async (t) => {
    const { env: base } = bundleEnv(t, layout);
    // The fake docker's build does not push (already pushed above); it only writes buildx's metadata.
    const env = { ...base, DOCKER_CONFIG: dockerConfig, FAKE_DOCKER_LAYOUT: undefined };
    const verified = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs: { images: image, digest: layout.indexDigest, platforms: 'linux/amd64,linux/arm64' }, env });
    t.equal(verified.code, 0, verified.stdout.slice(-1500));
    t.equal(verified.outputs.verified, 'true');
    const rootStep = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: { registry: registry.host, context: '.', tags: image, platforms: 'linux/amd64,linux/arm64' }, env });
    t.equal(rootStep.code, 0, rootStep.stdout.slice(-1500));
    t.equal(rootStep.outputs.verified, 'true');
  });
}
