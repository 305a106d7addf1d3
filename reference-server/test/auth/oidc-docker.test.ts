/**
 * `docker login -u oidc --password-stdin` with a CI job's OIDC token against the server on 127.0.0.1,
 * then docker push/pull with the credential it stored — the keyless flow with the real Docker CLI and
 * engine. A token for another ref is refused at login, and pushing outside the rule's grant fails.
 *
 * Skipped with a reason when no Docker engine answers, unless REQUIRE_DOCKER=1 (then it fails).
 */
import t from 'tap';
import { dockerCli } from './docker-cli.js';
import { spawnSync } from 'node:child_process';
import { githubClaims } from '../helpers/oidc-issuer.js';
import { oidcFixture } from './oidc-fixture.js';

const engine = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
const dockerOk = engine.status === 0 && engine.stdout.trim() !== '';
const skip = dockerOk ? false : process.env.REQUIRE_DOCKER === '1' ? false : 'no Docker engine answers `docker info` (set REQUIRE_DOCKER=1 to fail instead)';

t.test('docker login -u oidc --password-stdin, push and pull with the OIDC credential', { skip, timeout: 240_000 }, async (t) => {
  t.ok(dockerOk, 'a Docker engine is present');
  const { fx, issuer } = await oidcFixture(t);
  const host = fx.url.replace(/^http:\/\//, '');
  const docker = dockerCli(t, 'nitro-oidc-docker-', `hello oidc ${Date.now()}\n`);
  const tags = docker.tags;


  const local = `oidc-app:${process.pid}-${Date.now()}`;
  tags.push(local);
  const build = await docker(['build', '-t', local, '.']);
  t.equal(build.status, 0, `docker build (${build.out.slice(-300)})`);

  const devToken = await issuer.token({ claims: githubClaims({ ref: 'refs/heads/dev' }) });
  const refused = await docker(['login', host, '--username', 'oidc', '--password-stdin'], `${devToken}\n`);
  t.not(refused.status, 0, 'a token of another ref: docker login fails');

  const oidcToken = await issuer.token();
  const login = await docker(['login', host, '--username', 'oidc', '--password-stdin'], `${oidcToken}\n`);
  t.equal(login.status, 0, `docker login (${login.out.slice(-300)})`);
  t.match(login.out, /Login Succeeded/);

  const target = `${host}/acme/app:1.0.0`;
  tags.push(target);
  t.equal((await docker(['tag', local, target])).status, 0);
  const push = await docker(['push', target]);
  t.equal(push.status, 0, `docker push (${push.out.slice(-300)})`);
  t.match(push.out, /digest: sha256:[a-f0-9]{64}/);

  const outside = `${host}/acme/other:1.0.0`;
  tags.push(outside);
  await docker(['tag', local, outside]);
  const denied = await docker(['push', outside]);
  t.not(denied.status, 0, 'push outside the rule is refused');

  await docker(['rmi', '-f', target]);
  const pull = await docker(['pull', target]);
  t.equal(pull.status, 0, `docker pull (${pull.out.slice(-300)})`);
  const pushes = fx.logLines.filter((l) => l.audit === true && l.event === 'push' && l.method === 'oidc');
  t.ok(pushes.length > 0, 'the push is audited as an OIDC workload');
  t.match(pushes[0]?.oidc, { repository: 'acme/app', ref: 'refs/heads/main', run_id: '4242424242', actor: 'octocat' });
  t.notOk(fx.logText().includes(oidcToken.split('.')[2]!), 'the OIDC token is not logged');
});
