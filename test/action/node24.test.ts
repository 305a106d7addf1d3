// GitHub runs the bundles on Node 24 (action.yml `using: node24`); the repository's toolchain is Node 20.
// The bundle tests run them on Node 24 (runner.ts picks it when installed); this file makes sure that
// really happens — a missing Node 24 fails under REQUIRE_NODE24=1 (CI) — and runs each action's bundle
// once on it: verify/ against the reference server, the root action's full pipeline (fake docker), login/.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { bundleEnv, LOGIN_ACTION, PASSWORD, ROOT_ACTION, root, VERIFY_ACTION } from './helpers/bundle-fixture.js';
import { node24, node24MissingReason, REQUIRE_NODE24 } from './helpers/node24.js';
import { buildOciLayout } from './helpers/oci-layout.js';
import { referenceServerUnavailableReason, startReferenceServer } from './helpers/reference-server.js';
import { runActionStep } from './helpers/runner.js';

t.setTimeout(600_000);
const missing = node24MissingReason() ?? referenceServerUnavailableReason() ?? (existsSync(join(root, 'dist/index.mjs')) ? undefined : 'dist/ is not built');
if (missing && !REQUIRE_NODE24) {
  t.plan(0, `${missing}; set REQUIRE_NODE24=1 to make this a failure`);
} else if (missing) {
  t.fail(`REQUIRE_NODE24=1 but ${missing}`);
} else {
  t.match(node24()!.version, /^v24\./, `Node 24 at ${node24()!.path}`);
  // Open registry (no auth): the fake docker's skopeo push needs no credentials.
  const registry = await startReferenceServer(['--no-auth']);
  t.teardown(() => registry.stop());
  const layout = buildOciLayout(['linux/amd64', 'linux/arm64'], { attestation: true });
  t.teardown(() => rmSync(layout.dir, { recursive: true, force: true }));

  t.test('root action: login → build → push → verify on Node 24, then post', async (t) => {
    const { docker, env } = bundleEnv(t, layout);
    const inputs = { registry: registry.host, username: 'ci', password: PASSWORD, context: '.', tags: `${registry.host}/node24/app:v1`, platforms: 'linux/amd64,linux/arm64' };
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs, env });
    t.match(main.node, /^v24\./, 'the bundle ran on Node 24');
    t.equal(main.code, 0, main.stdout.slice(-2000) + main.stderr.slice(-1000));
    t.equal(main.outputs.verified, 'true');
    t.equal(main.outputs.digest, layout.indexDigest);
    const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs, env, state: main.state });
    t.equal(post.code, 0);
    t.same(docker.calls().at(-1)?.args, ['logout', registry.host]);
  });

  t.test('verify/ and login/ on Node 24', async (t) => {
    const { docker, env } = bundleEnv(t, layout);
    const pushed = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: { context: '.', tags: `${registry.host}/node24/other:v1`, verify: 'false' }, env });
    t.equal(pushed.code, 0, pushed.stdout.slice(-1500));
    const verified = await runActionStep({ actionYml: VERIFY_ACTION, phase: 'main', inputs: { metadata: pushed.outputs.metadata, platforms: 'linux/amd64,linux/arm64', pull: 'true' }, env });
    t.match(verified.node, /^v24\./);
    t.equal(verified.code, 0, verified.stdout.slice(-1500));
    t.equal(verified.outputs.verified, 'true');
    const login = await runActionStep({ actionYml: LOGIN_ACTION, phase: 'main', inputs: { registry: registry.host, username: 'u', password: PASSWORD }, env });
    t.match(login.node, /^v24\./);
    t.equal(login.code, 0, login.stdout);
    t.ok(docker.calls().some((c) => c.args[0] === 'login' && c.stdin === PASSWORD));
  });
}
