// Keyless push end to end: the root action's bundle, run as the runner runs it, with `oidc: true` and no
// username or password anywhere. A stand-in for the runner's token service (ACTIONS_ID_TOKEN_REQUEST_URL /
// _TOKEN, served by the test OIDC issuer) hands out a GitHub-shaped token; the reference server (started
// by its CLI, trusting that issuer through auth.oidc) exchanges it. The action logs in with it, pushes a
// two-platform image with docker buildx and verifies with the same credential.
//
// Without a Docker engine with buildx this test skips with the reason (REQUIRE_DOCKER=1: fails). The
// "no token service" refusals and the login/ sub-action's keyless login (a fake `docker` records what it
// is given) need no Docker and always run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { bundleEnv, LOGIN_ACTION, ROOT_ACTION, VERIFY_ACTION } from './helpers/bundle-fixture.js';
import { dockerUnavailableReason, REQUIRE_DOCKER } from './helpers/docker-engine.js';
import { referenceServerUnavailableReason, startReferenceServer } from './helpers/reference-server.js';
import { runActionStep } from './helpers/runner.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startOidcIssuer } from '../../reference-server/test/helpers/oidc-issuer.js';

t.setTimeout(600_000);

t.test('oidc: true without a token service: fails with the permissions hint, before any docker call', async (t) => {
  const step = await runActionStep({
    actionYml: ROOT_ACTION,
    phase: 'main',
    inputs: { registry: '127.0.0.1:1', oidc: 'true' },
    env: { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined, PATH: '/nonexistent' },
    node: process.execPath,
  });
  t.equal(step.code, 1);
  t.match(step.stdout, /::error::.*add `permissions: id-token: write` to the job/);
});

t.test('login/ and verify/ with oidc: true but no token service: the same permissions hint', async (t) => {
  const steps: { actionYml: string; inputs: Record<string, string> }[] = [
    { actionYml: LOGIN_ACTION, inputs: { registry: '127.0.0.1:1', oidc: 'true' } },
    { actionYml: VERIFY_ACTION, inputs: { images: '127.0.0.1:1/acme/app:v1', oidc: 'true' } },
  ];
  for (const { actionYml, inputs } of steps) {
    const step = await runActionStep({
      actionYml,
      phase: 'main',
      inputs,
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined, PATH: '/nonexistent' },
      node: process.execPath,
    });
    t.equal(step.code, 1, actionYml);
    t.match(step.stdout, /::error::.*add `permissions: id-token: write` to the job/, actionYml);
  }
});

t.test('login/ with oidc: true: docker login as "oidc" with the job\'s token on stdin, masked; logout in post', async (t) => {
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  const fixture = bundleEnv(t);
  const docker = fixture.docker;
  const env = {
    ...fixture.env,
    ACTIONS_ID_TOKEN_REQUEST_URL: issuer.actionsTokenUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.actionsRequestToken,
  };
  const inputs = { registry: 'reg.example:5000', oidc: 'true', 'oidc-audience': 'my-registry' };
  const main = await runActionStep({ actionYml: LOGIN_ACTION, phase: 'main', inputs, env });
  t.equal(main.code, 0, 'main step succeeds', { stdout: main.stdout.slice(-1500) });
  t.same(issuer.actionsAudiences, ['my-registry'], 'one token, for the audience given');
  t.match(main.stdout, /Logging in to reg\.example:5000 with the job's OIDC token \(audience my-registry\)/);
  const token = issuer.actionsTokens[0]!;
  t.ok(main.stdout.includes(`::add-mask::${token}`), 'the token was masked');
  await runActionStep({ actionYml: LOGIN_ACTION, phase: 'post', inputs, env, state: main.state });
  const calls = docker.calls();
  t.same(calls.map((c) => c.args), [['login', '--username', 'oidc', '--password-stdin', 'reg.example:5000'], ['logout', 'reg.example:5000']]);
  t.equal(calls[0]?.stdin, token, 'the token is the password, on stdin');
});

const problem = dockerUnavailableReason() ?? referenceServerUnavailableReason();
t.test('keyless: two-platform push and verification with the job\'s OIDC token, no password anywhere', { skip: problem && !REQUIRE_DOCKER ? `${problem} (set REQUIRE_DOCKER=1 to make this a failure)` : false }, async (t) => {
  if (problem) return t.fail(`REQUIRE_DOCKER=1 but ${problem}`);
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  // The runner stand-in's tokens: GitHub's claims for acme/app on refs/heads/main (helpers/oidc-issuer.ts).

  const work = mkdtempSync(join(tmpdir(), 'nitro-action-oidc-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const config = {
    // Private: anonymous pull must not be what makes verification pass.
    repositories: [{ name: 'default', visibility: 'private' }],
    auth: {
      oidc: [
        {
          issuer: issuer.issuer,
          audience: 'nitro-registry',
          allow_insecure_loopback: true,
          rules: [{ match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: 'acme/app', actions: ['pull', 'push'] }] }],
        },
      ],
    },
  };
  writeFileSync(join(work, 'config.yaml'), stringify(config));
  const registry = await startReferenceServer(['--config', join(work, 'config.yaml')], { NITRO_REGISTRY_ADMIN_PASSWORD: 'unused-Admin-pass1' });
  t.teardown(() => registry.stop());

  const context = join(work, 'context');
  mkdirSync(context);
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nARG TARGETARCH\nCOPY hello-${TARGETARCH}.txt /hello.txt\n');
  const stamp = `${Date.now()}-${process.pid}`;
  for (const arch of ['amd64', 'arm64']) writeFileSync(join(context, `hello-${arch}.txt`), `hello ${arch} ${stamp}\n`);
  const dockerConfig = mkdtempSync(join(work, 'docker-config-'));
  const tags = [`${registry.host}/acme/app:v1`, `${registry.host}/acme/app:latest`];
  t.teardown(() => void spawnSync('docker', ['image', 'rm', '--force', ...tags], { stdio: 'ignore' }));

  const inputs = { registry: registry.host, oidc: 'true', context, tags: tags.join(','), platforms: 'linux/amd64,linux/arm64', 'verify-pull': 'true' };
  const env = {
    DOCKER_CONFIG: dockerConfig,
    ACTIONS_ID_TOKEN_REQUEST_URL: issuer.actionsTokenUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.actionsRequestToken,
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_SHA: 'a'.repeat(40),
    GITHUB_SERVER_URL: 'https://github.com',
  };
  const main = await runActionStep({ actionYml: ROOT_ACTION, phase: 'main', inputs, env, timeoutMs: 300_000 });
  t.equal(main.code, 0, `main step succeeds:\n${main.stdout.slice(-3000)}\n${main.stderr.slice(-1000)}`);
  t.ok(issuer.actionsAudiences.length >= 1, 'the action asked the runner for a token');
  t.ok(issuer.actionsAudiences.every((a) => a === 'nitro-registry'), 'for the default audience');
  t.match(main.stdout, /Logging in to 127\.0\.0\.1:\d+ with the job's OIDC token/);
  t.match(main.stdout, /Logged in to 127\.0\.0\.1:\d+ as oidc/);
  t.match(main.stdout, /::add-mask::/, 'the token was masked');
  t.ok(issuer.actionsTokens.length >= 1);
  const unmasked = main.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
  for (const token of issuer.actionsTokens) {
    const signature = token.split('.')[2]!;
    t.notOk(unmasked.includes(signature), 'the token appears in no output line but the mask command');
    t.notOk(main.stderr.includes(signature), 'nor on stderr');
  }
  t.match(main.outputs.digest, /^sha256:[0-9a-f]{64}$/);
  t.equal(main.outputs.verified, 'true', 'verified with the OIDC credential');
  const platforms = JSON.parse(main.outputs['platform-digests'] ?? '{}') as Record<string, string>;
  t.same(Object.keys(platforms).sort(), ['linux/amd64', 'linux/arm64']);

  // What the registry serves, read with a fresh token of the same workflow (the registry needs auth).
  const client = new RegistryClient({ host: registry.host, insecure: true, credentials: { username: 'oidc', password: await issuer.token() } });
  for (const tag of tags) {
    const m = await client.getManifest('acme/app', tag.split(':').pop()!);
    t.equal(m?.digest, main.outputs.digest, `${tag} resolves to the pushed digest`);
  }
  const anonymous = await fetch(`http://${registry.host}/v2/acme/app/manifests/v1`);
  await anonymous.body?.cancel();
  t.equal(anonymous.status, 401, 'and nobody without a token can read it');

  const post = await runActionStep({ actionYml: ROOT_ACTION, phase: 'post', inputs, env, state: main.state });
  t.equal(post.code, 0);
  t.match(post.stdout, `logout ${registry.host}`);
});
