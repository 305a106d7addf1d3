// Bundle tests, part 2: the buildx double-push trap through the root action, and the verify/ and login/
// sub-actions. The bundles (dist/) run exactly as the GitHub runner runs them, with a fake `docker` on
// PATH that records argv and stdin; the fake "build" pushes a real OCI layout to CNCF Distribution with
// skopeo, so verification runs against a real registry.
import { existsSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { distributionAvailable, distributionBlobPath, startDistribution } from './helpers/distribution.js';
import { buildOciLayout } from './helpers/oci-layout.js';
import { runActionStep } from './helpers/runner.js';
import { bundleEnv, pushInputs as sharedPushInputs, root, ROOT_ACTION, VERIFY_ACTION, LOGIN_ACTION, PASSWORD } from './helpers/bundle-fixture.js';

// Many child processes (node, skopeo, docker): allow more than .taprc's 180 s on a busy machine.
t.setTimeout(600_000);

if (!existsSync(join(root, 'dist/index.mjs'))) {
  t.fail('dist/index.mjs is missing: run `npm run build:action` first');
} else if (!distributionAvailable()) {
  t.plan(0, 'CNCF Distribution (/usr/bin/docker-registry) is not installed');
} else {
  const registry = await startDistribution();
  t.teardown(() => registry.stop());
  const layout = buildOciLayout(['linux/amd64', 'linux/arm64'], { attestation: true });
  t.teardown(() => rmSync(layout.dir, { recursive: true, force: true }));

  const setup = (t: Test) => bundleEnv(t, layout);
  const pushInputs = (repo: string) => sharedPushInputs(registry.host, repo);

  t.test('the buildx double-push trap is repaired (warning) or, with repair: false, fails naming the tag', async (t) => {
    const { env } = setup(t);
    const trapEnv = { ...env, FAKE_DOCKER_TRAP_CHILD: layout.platforms['linux/arm64'] };
    const repaired = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: pushInputs('trap/app'), env: trapEnv });
    t.equal(repaired.code, 0, repaired.stdout.slice(-1500));
    t.match(repaired.stdout, /::warning title=Image verification::.*trap\/app:latest resolves to sha256:[0-9a-f]+ \(a platform manifest of the index\).*repaired/);
    t.match(repaired.summary, /🔧 repaired \(was `sha256:/);
    t.equal(JSON.parse(repaired.outputs['tag-digests'])[`${registry.host}/trap/app:latest`], layout.indexDigest);

    const failed = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: { ...pushInputs('trap2/app'), repair: 'false' }, env: trapEnv });
    t.equal(failed.code, 1);
    t.match(failed.stdout, /::error title=Image verification%3A TAG_ON_CHILD::.*trap2\/app:latest resolves to/);
    t.equal(failed.outputs.verified, 'false');
    t.match(failed.summary, /❌ failed/);
  });

  t.test('verify/ sub-action: accepts build-push-action metadata; a deleted layer fails with a clear message', async (t) => {
    const { env } = setup(t);
    // Push with the root action but without verification, as another tool would.
    const pushed = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: { ...pushInputs('other/app'), verify: 'false' }, env });
    t.equal(pushed.code, 0);
    const metadata = pushed.outputs.metadata;
    const ok = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs: { metadata, platforms: 'linux/amd64,linux/arm64/v8', insecure: 'true', pull: 'true' }, env });
    t.equal(ok.code, 0, ok.stdout.slice(-1500));
    t.equal(ok.outputs.digest, layout.indexDigest);
    t.equal(ok.outputs.verified, 'true');

    unlinkSync(distributionBlobPath(registry.storage, layout.layers['linux/amd64'].digest));
    const bad = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs: { metadata, platforms: 'linux/amd64,linux/arm64', insecure: 'true' }, env });
    t.equal(bad.code, 1);
    t.match(bad.stdout, new RegExp(`::error title=Image verification%3A BLOB_MISSING::.*other/app, platform linux/amd64: layer ${layout.layers['linux/amd64'].digest} \\(\\d+ bytes\\) is missing`));
    t.match(bad.summary, /\| `linux\/amd64` \| `sha256:[0-9a-f]+` \| 2 \| [^|]+ \| ❌ \|/);
  });

  t.test('login/ sub-action: login on stdin, logout in post', async (t) => {
    const { docker, env } = setup(t);
    const main = await runActionStep({ actionYml: LOGIN_ACTION, phase: 'main', inputs: { registry: 'https://reg.example:5000/', username: 'u', password: PASSWORD }, env });
    t.equal(main.code, 0);
    await runActionStep({ actionYml: LOGIN_ACTION, phase: 'post', inputs: { registry: 'reg.example:5000', username: 'u', password: PASSWORD }, env, state: main.state });
    const calls = docker.calls();
    t.same(calls.map((c) => c.args), [['login', '--username', 'u', '--password-stdin', 'reg.example:5000'], ['logout', 'reg.example:5000']]);
    t.equal(calls[0].stdin, PASSWORD);
  });
}
