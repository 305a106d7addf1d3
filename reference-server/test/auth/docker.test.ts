/**
 * The quick reference's docker commands (login, build, tag, push, pull, --debug pull) against the token
 * auth server on 127.0.0.1:<port> (Docker treats loopback registries as insecure, so plain HTTP works).
 * `docker login` reads the password from stdin instead of the interactive prompt. A private DOCKER_CONFIG
 * keeps the credentials out of the machine's docker config.
 *
 * Skipped with a reason when no Docker engine answers, unless REQUIRE_DOCKER=1 (then it fails).
 * Not replayed: `docker buildx create --use` + multi-platform --push (the docker-container driver pulls
 * moby/buildkit from Docker Hub, which this environment cannot reach).
 */
import t from 'tap';
import { dockerCli } from './docker-cli.js';
import { spawnSync } from 'node:child_process';
import { authFixture, basic, ADMIN_PASSWORD } from './harness.js';

const engine = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
const dockerOk = engine.status === 0 && engine.stdout.trim() !== '';
const skip = dockerOk ? false : process.env.REQUIRE_DOCKER === '1' ? false : 'no Docker engine answers `docker info` (set REQUIRE_DOCKER=1 to fail instead)';

t.test('docker login / build / tag / push / pull with token auth', { skip, timeout: 240_000 }, async (t) => {
  t.ok(dockerOk, 'a Docker engine is present');
  const fx = await authFixture(t);
  const host = fx.url.replace(/^http:\/\//, '');
  const docker = dockerCli(t, 'nitro-docker-', `hello ${Date.now()}\n`);
  const tags = docker.tags;
  t.equal((await fx.request.post('/api/users').set('Authorization', basic('admin', ADMIN_PASSWORD)).send({ username: 'username', password: 'password' })).status, 201);
  // A plain account pushes where it has the write role: its project, and `default` for the unprefixed name.
  for (const project of ['my-project', 'default']) {
    t.equal((await fx.request.put(`/api/projects/${project}/members/username`).set('Authorization', basic('admin', ADMIN_PASSWORD)).send({ role: 'write' })).status, 200);
  }


  const tag = `myapp:1.0.0-${process.pid}-${Date.now()}`;
  tags.push(tag);
  const build = await docker(['build', '-t', tag, '.']);
  t.equal(build.status, 0, `docker build (${build.out.slice(-300)})`);

  const anonymousPush = await docker(['tag', tag, `${host}/my-project/myapp:1.0.0`]);
  tags.push(`${host}/my-project/myapp:1.0.0`);
  t.equal(anonymousPush.status, 0);
  const refused = await docker(['push', `${host}/my-project/myapp:1.0.0`]);
  t.not(refused.status, 0, 'push before login is refused');

  const login = await docker(['login', host, '--username', 'username', '--password-stdin'], 'password\n');
  t.equal(login.status, 0, `docker login (${login.out.slice(-300)})`);
  t.match(login.out, /Login Succeeded/);
  const wrong = await docker(['login', host, '--username', 'username', '--password-stdin'], 'not-the-password\n');
  t.not(wrong.status, 0, 'wrong password: login fails');
  await docker(['login', host, '--username', 'username', '--password-stdin'], 'password\n');

  const push = await docker(['push', `${host}/my-project/myapp:1.0.0`]);
  t.equal(push.status, 0, `docker push (${push.out.slice(-300)})`);
  t.match(push.out, /digest: sha256:[a-f0-9]{64}/);
  for (const [src, dst] of [[tag, `${host}/my-project/myapp:latest`], [tag, `${host}/myapp:latest`]] as const) {
    tags.push(dst);
    t.equal((await docker(['tag', src, dst])).status, 0);
    t.equal((await docker(['push', dst])).status, 0, `docker push ${dst}`);
  }

  await docker(['rmi', '-f', `${host}/my-project/myapp:latest`]);
  const pull = await docker(['pull', `${host}/my-project/myapp:latest`]);
  t.equal(pull.status, 0, `docker pull (${pull.out.slice(-300)})`);
  const debugPull = await docker(['--debug', 'pull', `${host}/myapp:latest`]);
  t.equal(debugPull.status, 0, 'docker --debug pull');
  t.ok(fx.logLines.some((l) => l.audit === true && l.event === 'token_issued' && l.user === 'username'), 'docker used the token endpoint');
});
