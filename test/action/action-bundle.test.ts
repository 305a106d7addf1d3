// Bundle tests, part 1 (the root action's pipeline and post step). Runs the built bundles (dist/) exactly as
// the GitHub runner does, with a fake `docker` on PATH that
// records argv and stdin. The fake "build" pushes a real OCI layout to CNCF Distribution with skopeo, so
// the verification half runs against a real registry.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { distributionAvailable, startDistribution } from './helpers/distribution.js';
import { buildOciLayout } from './helpers/oci-layout.js';
import { runActionStep } from './helpers/runner.js';
import { bundleEnv, pushInputs as sharedPushInputs, root, ROOT_ACTION, PASSWORD } from './helpers/bundle-fixture.js';

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

  t.test('login → build → push → verify, then logout in post; the password never reaches argv', async (t) => {
    const { docker, env, dockerConfig } = setup(t);
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: pushInputs('pipeline/app'), env });
    t.equal(main.code, 0, `main succeeds: ${main.stdout.slice(-2000)}`);
    t.equal(main.outputs.digest, layout.indexDigest);
    t.equal(main.outputs.refs, `${registry.host}/pipeline/app@${layout.indexDigest}`);
    t.equal(main.outputs.verified, 'true');
    t.same(JSON.parse(main.outputs['tag-digests']), {
      [`${registry.host}/pipeline/app:v1`]: layout.indexDigest,
      [`${registry.host}/pipeline/app:latest`]: layout.indexDigest,
    });
    t.same(JSON.parse(main.outputs['platform-digests']), layout.platforms);
    t.equal(JSON.parse(main.outputs.metadata)['containerimage.digest'], layout.indexDigest);
    const report = JSON.parse(readFileSync(main.outputs.report, 'utf8'));
    t.equal(report.ok, true);
    t.equal(report.attestations.length, 1);
    t.match(main.summary, /### Image verification: ✅ verified/);
    t.match(main.summary, new RegExp(`\\| \`${registry.host}/pipeline/app:latest\` \\| \`${layout.indexDigest}\` \\| ✅ \\|`));
    t.match(main.summary, /\| `linux\/arm64` \| `sha256:[0-9a-f]{64}` \| 2 \| /);
    t.notMatch(main.stdout, /\*\*\*/, 'no non-secret output was masked');

    const calls = docker.calls();
    const login = calls.find((c) => c.args[0] === 'login');
    t.same(login?.args, ['login', '--username', 'ci-user', '--password-stdin', registry.host]);
    t.equal(login?.stdin, PASSWORD, 'password arrives on stdin');
    t.equal(login?.dockerConfig, dockerConfig, 'docker runs with the DOCKER_CONFIG the runner gives');
    for (const c of calls) t.notOk(c.args.some((a) => a.includes(PASSWORD)), `password not in argv of docker ${c.args.slice(0, 2).join(' ')}`);
    t.notOk(main.stdout.split('\n').some((l) => l.includes(PASSWORD) && !l.startsWith('::add-mask::')), 'password only in the add-mask command, nowhere else in the log');
    const build = calls.find((c) => c.args[1] === 'build')!.args;
    t.same(build.slice(0, 2), ['buildx', 'build']);
    t.ok(build.includes('--push'));
    t.equal(build[build.indexOf('--platform') + 1], 'linux/amd64,linux/arm64');
    t.ok(build.includes('org.opencontainers.image.source=https://github.example/octo/app'), 'default OCI source label');
    t.ok(build.includes('org.opencontainers.image.revision=abc123'), 'default OCI revision label');
    t.ok(build.includes('org.opencontainers.image.title=demo'), 'user label');
    t.equal(build[build.length - 1], '.');

    const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs: pushInputs('pipeline/app'), env, state: main.state });
    t.equal(post.code, 0);
    t.same(docker.calls().at(-1)?.args, ['logout', registry.host], 'post step logs out');
  });

  t.test('a failed build fails the step, and the post step still logs out', async (t) => {
    const { docker, env } = setup(t);
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: pushInputs('failing/app'), env: { ...env, FAKE_DOCKER_BUILD_FAIL: '1' } });
    t.equal(main.code, 1);
    t.match(main.stdout, /::error::docker buildx build exited with 1/);
    t.equal(main.outputs.digest, undefined, 'no digest output');
    const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs: pushInputs('failing/app'), env, state: main.state });
    t.equal(post.code, 0);
    t.same(docker.calls().map((c) => c.args[0]), ['login', 'buildx', 'logout']);
  });

  t.test('a builder whose bootstrap fails is removed in the post step (buildx registered it before failing)', async (t) => {
    const { docker, env } = setup(t);
    const inputs = { ...pushInputs('builder/app'), 'create-builder': 'true', builder: 'nitro-test-builder' };
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs, env: { ...env, FAKE_DOCKER_CREATE_FAIL: '1' } });
    t.equal(main.code, 1);
    t.match(main.stdout, /::error::docker buildx create --name nitro-test-builder exited with 1/);
    const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs, env, state: main.state });
    t.equal(post.code, 0, post.stdout);
    t.same(docker.calls().map((c) => c.args.slice(0, 3)), [
      ['login', '--username', 'ci-user'],
      ['buildx', 'create', '--name'],
      ['buildx', 'rm', 'nitro-test-builder'],
      ['logout', registry.host],
    ]);
    // A generated name is saved just the same.
    const { docker: docker2, env: env2 } = setup(t);
    const generated = { ...pushInputs('builder/app'), 'create-builder': 'true' };
    const main2 = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: generated, env: { ...env2, FAKE_DOCKER_CREATE_FAIL: '1' } });
    await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs: generated, env: env2, state: main2.state });
    const created = docker2.calls().find((c) => c.args[1] === 'create')!.args;
    const name = created[created.indexOf('--name') + 1];
    t.match(name, /^nitro-builder-[0-9a-f]{8}$/);
    t.ok(docker2.calls().some((c) => c.args.join(' ') === `buildx rm ${name}`), `post removes ${name}`);
  });

  t.test('a loopback plain-HTTP registry needs no insecure input (as with Docker and BuildKit)', async (t) => {
    const { docker, env } = setup(t);
    const { insecure: _dropped, ...inputs } = pushInputs('loopback/app');
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs, env });
    t.equal(main.code, 0, main.stdout.slice(-2000));
    t.equal(main.outputs.verified, 'true');
    t.match(main.stdout, /loopback registry answering in plain HTTP: using http:\/\//);
    const build = docker.calls().find((c) => c.args[1] === 'build')!.args;
    t.ok(build.includes('--push') && !build.some((a) => a.includes('registry.insecure')), 'buildx pushes to loopback without registry.insecure');
  });

  t.test('logout: false keeps the login', async (t) => {
    const { docker, env } = setup(t);
    const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: { ...pushInputs('keep/app'), logout: 'false', verify: 'false' }, env });
    t.equal(main.code, 0);
    await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs: {}, env, state: main.state });
    t.notOk(docker.calls().some((c) => c.args[0] === 'logout'));
  });

  t.test('login errors are explained; nothing to log out from', async (t) => {
    const cases = [
      { stderr: 'Error response from daemon: Get "https://reg.example/v2/": http: server gave HTTP response to HTTPS client', expect: /set `insecure: true`/ },
      { stderr: 'Error response from daemon: Get "https://reg.example/v2/": unauthorized: incorrect username or password', expect: /rejected the credentials/ },
      { stderr: 'Error response from daemon: Get "https://reg.example/v2/": dial tcp: lookup reg.example: no such host', expect: /could not be reached/ },
    ];
    for (const c of cases) {
      const { docker, env } = setup(t);
      const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs: pushInputs('x/y'), env: { ...env, FAKE_DOCKER_LOGIN_STDERR: c.stderr } });
      t.equal(main.code, 1);
      t.match(main.stdout, c.expect);
      await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs: {}, env, state: main.state });
      t.same(docker.calls().map((x) => x.args[0]), ['login'], 'no build, no logout after a failed login');
    }
  });

}
