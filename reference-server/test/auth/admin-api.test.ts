/**
 * The management API (users, access tokens, project members, Nitro repositories with the quick
 * reference's JSON verbatim), config-declared repositories, and the user/token CLI.
 */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { authFixture, basic, ADMIN_PASSWORD } from './harness.js';
import { bearer, pushAs, seedToken, uniqueImage } from './client.js';
import { userCommand, tokenCommand, type CliIo } from '../../src/auth/cli.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);
const SEED_HOSTED = { type: 'Hosted' };
const SEED_RULES = {
  type: 'Hosted',
  push_rules: { allow_tag_overwrite: false, must_be_project_member: false, must_use_auth_token_for_push: false, require_content_trust: false },
};

t.test('users and access tokens: shown once, stored hashed, scoped, expiring, revocable', async (t) => {
  const fx = await authFixture(t);
  const created = await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'alice', password: 'alice:pass:word' });
  t.equal(created.status, 201);
  t.same(created.body, { username: 'alice', admin: false, robot: false });
  t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'alice', password: 'another-one' })).status, 409);
  t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'Bad Name', password: 'xxxxxxxxxx' })).status, 400);
  t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'shorty', password: 'short' })).status, 400);
  t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'robot-1' })).status, 201, 'robot account (no password)');

  const tok = await fx.request
    .post('/api/users/alice/tokens')
    .set('Authorization', basic('alice', 'alice:pass:word'))
    .send({ name: 'ci', scopes: ['repository:my-project/app:pull,push'], expires_in: 3600 });
  t.equal(tok.status, 201, 'users create their own tokens');
  t.match(tok.body.token, /^nrt_[A-Za-z0-9_-]{43}$/);
  t.same(tok.body.scopes, ['repository:my-project/app:pull,push']);
  t.ok(Date.parse(tok.body.expires_at) > Date.now());
  const list = await fx.request.get('/api/users/alice/tokens').set('Authorization', ADMIN);
  t.equal(list.body.length, 1);
  t.notOk('token' in list.body[0], 'the secret is never shown again');
  const dump = JSON.stringify(await fx.tableRows('auth_tokens')) + JSON.stringify(await fx.tableRows('auth_users'));
  t.notMatch(dump, tok.body.token, 'the database holds only a hash of the token');
  t.notMatch(dump, 'alice:pass:word', 'and only a hash of the password');
  t.match(dump, /scrypt\$/);

  t.equal((await fx.request.put('/api/projects/my-project/members/alice').set('Authorization', ADMIN).send({ role: 'write' })).status, 200);
  t.equal((await pushAs(fx.request, 'my-project/app', uniqueImage(), 'v1', basic('alice', tok.body.token))).status, 201, 'token pushes in scope');
  t.equal((await pushAs(fx.request, 'my-project/other', uniqueImage(), 'v1', basic('alice', tok.body.token))).status, 403, 'not out of scope');
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('bob', tok.body.token))).status, 401, "another user's name with the token");
  t.equal((await fx.request.get('/v2/').set('Authorization', bearer(tok.body.token))).status, 200, 'raw token as Bearer');
  t.equal((await fx.request.post('/api/users/alice/tokens').set('Authorization', ADMIN).send({ name: 'ci' })).status, 409, 'names are unique per user');
  t.equal((await fx.request.post('/api/users/alice/tokens').set('Authorization', ADMIN).send({ name: 'x', scopes: ['repository:a:b:pull'] })).status, 400, 'bad scope');

  const short = await fx.request.post('/api/users/alice/tokens').set('Authorization', ADMIN).send({ name: 'short', expires_in: 1 });
  await new Promise((r) => setTimeout(r, 1100));
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('alice', short.body.token))).status, 401, 'expired token refused');

  t.equal((await fx.request.delete('/api/users/alice/tokens/ci').set('Authorization', ADMIN)).status, 204);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('alice', tok.body.token))).status, 401, 'revoked token refused');
  t.equal((await fx.request.delete('/api/users/alice/tokens/ci').set('Authorization', ADMIN)).status, 404);

  t.equal((await fx.request.put('/api/users/alice/password').set('Authorization', basic('alice', 'alice:pass:word')).send({ password: 'new-password-1' })).status, 204);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('alice', 'new-password-1'))).status, 200);
  t.equal((await fx.request.delete('/api/users/alice').set('Authorization', ADMIN)).status, 204);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('alice', 'new-password-1'))).status, 401, 'deleted users cannot log in');
  t.ok(fx.logLines.some((l) => l.audit === true && l.event === 'admin_change' && l.action === 'token_create'), 'admin changes are audited');
  t.notMatch(fx.logText(), tok.body.token, 'no token in the logs');
});

t.test('project members: roles, project admins manage their project', async (t) => {
  const fx = await authFixture(t);
  for (const u of ['lead', 'dev']) await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: u, password: `${u}-password` });
  t.equal((await fx.request.put('/api/projects/my-project/members/lead').set('Authorization', basic('lead', 'lead-password')).send({ role: 'admin' })).status, 403, 'not yet');
  const set = await fx.request.put('/api/projects/my-project/members/lead').set('Authorization', ADMIN).send({ role: 'admin' });
  t.equal(set.status, 200);
  t.same(set.body, { project: 'my-project', username: 'lead', role: 'admin' });
  t.equal((await fx.request.put('/api/projects/my-project/members/dev').set('Authorization', basic('lead', 'lead-password')).send({ role: 'write' })).status, 200, 'project admin adds members');
  t.equal((await fx.request.put('/api/projects/my-project/members/dev').set('Authorization', ADMIN).send({ role: 'owner' })).status, 400, 'unknown role');
  t.equal((await fx.request.put('/api/projects/my-project/members/ghost').set('Authorization', ADMIN).send({ role: 'read' })).status, 404, 'unknown user');
  const members = await fx.request.get('/api/projects/my-project/members').set('Authorization', basic('dev', 'dev-password'));
  t.same(members.body, [
    { username: 'dev', role: 'write' },
    { username: 'lead', role: 'admin' },
  ]);
  t.equal((await fx.request.delete('/api/projects/my-project/members/dev').set('Authorization', ADMIN)).status, 204);
});

t.test("repositories: the quick reference's JSON verbatim through /api/repository", async (t) => {
  const fx = await authFixture(t);
  const list0 = await fx.request.get('/api/repository').set('Authorization', ADMIN);
  t.same(list0.body, [{ id: 'default', name: 'default', visibility: 'public', config: SEED_HOSTED }], 'one default hosted repository');

  const created = await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ name: 'my-project', config: SEED_HOSTED });
  t.equal(created.status, 201);
  const id = created.body.id as string;
  t.match(id, /^[0-9a-f-]{36}$/);
  t.equal(created.body.visibility, 'private', 'private unless asked');
  const put = await fx.request.put(`/api/repository/${id}/config`).set('Authorization', ADMIN).type('json').send(JSON.stringify(SEED_RULES, null, 2));
  t.equal(put.status, 200);
  t.same((await fx.request.get(`/api/repository/${id}`).set('Authorization', ADMIN)).body, { id, name: 'my-project', visibility: 'private', config: SEED_RULES });
  t.same((await fx.request.get(`/api/repository/${id}/config`).set('Authorization', ADMIN)).body, SEED_RULES);

  const typo = await fx.request.put(`/api/repository/${id}/config`).set('Authorization', ADMIN).send({ type: 'Hosted', push_rules: { allow_tag_overwite: false } });
  t.equal(typo.status, 400, 'a misspelt rule is refused, not ignored');
  t.match(typo.body.errors[0].message, /unknown rule "allow_tag_overwite"/);
  t.equal((await fx.request.put(`/api/repository/${id}/config`).set('Authorization', ADMIN).send({ type: 'Proxy' })).status, 400);
  t.equal((await fx.request.put(`/api/repository/${id}/config`).set('Authorization', ADMIN).send({ type: 'Hosted', push_rules: { allow_tag_overwrite: 'no' } })).status, 400);
  t.equal((await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ name: 'my-project', config: SEED_HOSTED })).status, 409, 'duplicate name');
  t.equal((await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ name: '../etc', config: SEED_HOSTED })).status, 400, 'bad name');
  t.equal((await fx.request.put(`/api/repository/${id}/visibility`).set('Authorization', ADMIN).send({ visibility: 'public' })).status, 200);
  t.equal((await fx.request.get('/api/repository/nope').set('Authorization', ADMIN)).status, 404);
  t.equal((await fx.request.delete('/api/repository/default').set('Authorization', ADMIN)).status, 409, 'the default repository stays');
  t.equal((await fx.request.delete(`/api/repository/${id}`).set('Authorization', ADMIN)).status, 204);
  t.equal((await fx.request.get(`/api/repository/${id}`).set('Authorization', ADMIN)).status, 404);

  const tok = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:myapp:pull,push');
  t.equal((await fx.request.get('/api/repository').set('Authorization', bearer(tok))).status, 401, 'a token issued for repository scopes is not a management credential');
  const apiTok = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'registry:api:*');
  t.equal((await fx.request.get('/api/repository').set('Authorization', bearer(apiTok))).status, 200, 'the management API takes a bearer token issued for registry:api:*');
  t.equal((await fx.request.post('/api/repository/default/gc').set('Authorization', bearer(tok)).send({ dry_run: true })).status, 200, 'GC with a token, as the quick reference does');
});

t.test('a registry JWT cannot manage accounts or credentials (401 insufficient_scope: it lacks registry:api:*); a private repository that owns images is not deleted by accident', async (t) => {
  const fx = await authFixture(t);
  const ADMIN = basic('admin', ADMIN_PASSWORD);
  t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'bob', password: 'bob-password-1' })).status, 201);
  const adminJwt = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:foo:pull');
  const bobJwt = await seedToken(fx.request, 'bob', 'bob-password-1', 'repository:foo:pull');
  const asJwt = (jwt: string) => ({ Authorization: bearer(jwt) });
  t.equal((await fx.request.post('/api/users').set(asJwt(adminJwt)).send({ username: 'eve', password: 'eve-password-1', admin: true })).status, 401, 'no admin creation with a token');
  t.equal((await fx.request.put('/api/users/bob/password').set(asJwt(bobJwt)).send({ password: 'taken-over-1' })).status, 401, 'no password change with a token');
  t.equal((await fx.request.post('/api/users/bob/tokens').set(asJwt(bobJwt)).send({ name: 'forever' })).status, 401, 'no access token minted from a token');
  t.equal((await fx.request.put('/api/projects/foo/members/bob').set(asJwt(adminJwt)).send({ role: 'admin' })).status, 401, 'no membership change with a token');
  t.equal((await fx.request.post('/api/users/bob/tokens').set('Authorization', basic('bob', 'bob-password-1')).send({ name: 'ci' })).status, 201, 'with the password it works');

  const created = await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ name: 'team', visibility: 'private', config: { type: 'Hosted' } });
  const id = created.body.id as string;
  t.equal((await pushAs(fx.request, 'team/app', uniqueImage(), 'v1', ADMIN)).status, 201);
  t.equal((await fx.request.get('/v2/team/app/manifests/v1')).status, 401, 'private: no anonymous pull');
  const refused = await fx.request.delete(`/api/repository/${id}`).set('Authorization', ADMIN);
  t.equal(refused.status, 409, 'a repository that still owns images is not deleted');
  t.match(refused.body.errors[0].message, /still owns 1 image name/);
  t.equal((await fx.request.get('/v2/team/app/manifests/v1')).status, 401, 'and its images stay private');
  t.equal((await fx.request.delete(`/api/repository/${id}?force=true`).set('Authorization', ADMIN)).status, 204, 'unless forced');
});

t.test('repositories declared in the config file', async (t) => {
  const fx = await authFixture(t, {
    repositories: [
      { name: 'default', visibility: 'private' },
      { name: 'prod', id: 'prod-repo', visibility: 'public', config: SEED_RULES },
    ],
  });
  const list = (await fx.request.get('/api/repository').set('Authorization', ADMIN)).body as { id: string; visibility: string }[];
  t.same(list.map((r) => [r.id, r.visibility]), [
    ['default', 'private'],
    ['prod-repo', 'public'],
  ]);
  t.equal((await fx.request.get('/v2/anything/manifests/x')).status, 401, 'a private default repository asks anonymous clients to log in');
  await t.rejects(authFixture(t, { repositories: [{ name: 'x', config: { type: 'Hosted', push_rules: { nope: true } } }] }), /unknown rule/);
});

function ioWith(stdinText: string | null, env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (stdinText !== null) stdin.end(stdinText);
  const out: string[] = [];
  const err: string[] = [];
  const w = (into: string[]) => new PassThrough().on('data', (c: Buffer) => into.push(c.toString()));
  const stdout = w(out);
  const stderr = w(err);
  return { stdin, stdout, stderr, env, out: () => out.join(''), err: () => err.join('') };
}

t.test('CLI: user add|passwd|rm, token create|revoke on --data', async (t) => {
  const fx = await authFixture(t);
  const data = ['--data', fx.dataDir];
  const io = (stdinText: string | null) => ioWith(stdinText, fx.cliEnv); // the server's database, whichever it is
  t.equal(await userCommand(['add', 'carol', '--password-stdin', ...data], io('carol-password\n')), 0);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('carol', 'carol-password'))).status, 200, 'the running server sees the new user');
  const noTty = io(null);
  t.equal(await userCommand(['add', 'dave', ...data], noTty), 2, 'no prompt without a terminal');
  t.match(noTty.err(), /--password-stdin/);
  t.equal(await userCommand(['add', 'dave', 'secret-on-argv', ...data], io('x')), 2, 'a password on argv is refused');
  t.equal(await userCommand(['passwd', 'carol', '--password-stdin', ...data], io('carol-password-2')), 0);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('carol', 'carol-password-2'))).status, 200);

  const tio = io(null);
  t.equal(await tokenCommand(['create', 'carol', 'deploy', '--scope', 'repository:my-project/app:pull', '--expires-in', '600', ...data], tio), 0);
  const token = tio.out().trim();
  t.match(token, /^nrt_/);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('carol', token))).status, 200);
  t.equal(await tokenCommand(['revoke', 'carol', 'deploy', ...data], io(null)), 0);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('carol', token))).status, 401, 'revoked from the CLI');
  t.equal(await tokenCommand(['revoke', 'carol', 'deploy', ...data], io(null)), 1, 'unknown token');
  t.equal(await userCommand(['rm', 'carol', ...data], io(null)), 0);
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('carol', 'carol-password-2'))).status, 401);
});
