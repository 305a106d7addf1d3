/**
 * Issue 12, item 1: a registry JWT issued for repository scopes is not a key to the management API. On
 * /api/ it authorizes only what the quick reference does with it (its admin running GC and reading
 * stats); every state-changing route refuses it, while Basic credentials and a JWT issued for the
 * management scope `registry:api:*` keep working.
 */
import t from 'tap';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture, type TapTest } from './harness.js';
import { bearer, pushAs, seedToken, uniqueImage } from './client.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);

interface Call {
  readonly route: string;
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: Record<string, unknown>;
  /** Status with Basic admin credentials. */
  readonly ok: number;
}

/** One call per state-changing management route, in an order where each succeeds after the previous ones. */
const CALLS: Call[] = [
  { route: 'api_users_password', method: 'PUT', path: '/api/users/bob/password', body: { password: 'bob-new-password' }, ok: 204 },
  { route: 'api_tokens_create', method: 'POST', path: '/api/users/bob/tokens', body: { name: 'minted' }, ok: 201 },
  { route: 'api_tokens_revoke', method: 'DELETE', path: '/api/users/bob/tokens/ci', ok: 204 },
  { route: 'api_members_set', method: 'PUT', path: '/api/projects/secret/members/bob', body: { role: 'admin' }, ok: 200 },
  { route: 'api_members_remove', method: 'DELETE', path: '/api/projects/secret/members/carol', ok: 204 },
  { route: 'api_repository_create', method: 'POST', path: '/api/repository', body: { name: 'evil', visibility: 'public' }, ok: 201 },
  { route: 'api_repository_config', method: 'PUT', path: '/api/repository/secret/config', body: { type: 'Hosted' }, ok: 200 },
  { route: 'api_repository_visibility', method: 'PUT', path: '/api/repository/secret/visibility', body: { visibility: 'public' }, ok: 200 },
  { route: 'api_repository_delete', method: 'DELETE', path: '/api/repository/secret?force=true', ok: 204 },
  { route: 'api_users_create', method: 'POST', path: '/api/users', body: { username: 'mallory', password: 'mallory-password', admin: true }, ok: 201 },
  { route: 'api_users_delete', method: 'DELETE', path: '/api/users/bob', ok: 204 },
];

/** The quick reference runs these with a repository-scoped token: the only /api/ routes that accept one. */
const MAINTENANCE = ['api_repository_gc'];

const send = (fx: AuthFixture, c: Call, auth: string) => {
  const r = fx.request[c.method === 'POST' ? 'post' : c.method === 'PUT' ? 'put' : 'delete'](c.path).set('Authorization', auth);
  return c.body ? r.send(c.body) : r;
};

async function setup(t: TapTest) {
  const fx = await authFixture(t);
  t.equal((await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ id: 'secret', name: 'secret', visibility: 'private' })).status, 201);
  t.equal((await pushAs(fx.request, 'secret/app', uniqueImage(), 'v1', ADMIN)).status, 201);
  for (const u of ['bob', 'carol']) t.equal((await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: u, password: `${u}-password` })).status, 201);
  t.equal((await fx.request.post('/api/users/bob/tokens').set('Authorization', ADMIN).send({ name: 'ci' })).status, 201);
  t.equal((await fx.request.put('/api/projects/secret/members/carol').set('Authorization', ADMIN).send({ role: 'read' })).status, 200);
  return fx;
}

t.test('every state-changing /api/ route is covered by this test', async (t) => {
  const fx = await authFixture(t);
  const routes = [...fx.auth.routes, ...fx.registry.gc.routes(() => null)];
  const changing = routes.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && r.pattern.source.startsWith('^\\/api\\/') && !r.name.startsWith('auth_'));
  t.same(changing.map((r) => r.name).sort(), [...CALLS.map((c) => c.route), ...MAINTENANCE].sort(), 'a new route must be added to CALLS (or MAINTENANCE, deliberately)');
});

t.test("an admin's pull-only or push-scoped JWT is refused on every state-changing /api/ route; Basic admin still works", async (t) => {
  const fx = await setup(t);
  const pullOnly = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:secret/app:pull');
  const pushScoped = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:secret/app:pull,push');
  for (const c of CALLS) {
    for (const [what, jwt] of [['pull-only', pullOnly], ['push-scoped', pushScoped]] as const) {
      const r = await send(fx, c, bearer(jwt));
      t.ok(r.status === 401 || r.status === 403, `${what} JWT: ${c.method} ${c.path} → ${r.status}`);
      if (r.status === 401) t.match(r.headers['www-authenticate'], /scope="registry:api:\*",error="insufficient_scope"/, 'the challenge names the management scope');
    }
  }
  // Reading the management API is refused too (users, repository settings).
  for (const path of ['/api/users', '/api/repository', '/api/repository/secret', '/api/users/bob/tokens', '/api/projects/secret/members']) {
    t.equal((await fx.request.get(path).set('Authorization', bearer(pullOnly))).status, 401, `pull-only JWT: GET ${path}`);
  }

  // Nothing changed.
  t.equal((await fx.request.get('/v2/secret/app/manifests/v1')).status, 401, 'secret is still private (anonymous pull refused)');
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('bob', 'bob-password'))).status, 200, "bob's password is unchanged");
  t.equal((await fx.request.get('/api/users/bob/tokens').set('Authorization', ADMIN)).body.length, 1, "bob's token is neither revoked nor joined by another");
  t.same((await fx.request.get('/api/users').set('Authorization', ADMIN)).body.map((u: { username: string }) => u.username).sort(), ['admin', 'bob', 'carol']);
  t.same((await fx.request.get('/api/projects/secret/members').set('Authorization', ADMIN)).body, [{ username: 'carol', role: 'read' }]);

  // What the quick reference does with such a token still works.
  t.equal((await fx.request.post('/api/repository/secret/gc').set('Authorization', bearer(pullOnly)).send({ dry_run: true })).status, 200, 'GC with the JWT');
  t.equal((await fx.request.get('/api/repository/secret/stats').set('Authorization', bearer(pullOnly))).status, 200, 'stats with the JWT');

  // And Basic admin does everything.
  for (const c of CALLS) t.equal((await send(fx, c, ADMIN)).status, c.ok, `Basic admin: ${c.method} ${c.path}`);
});

t.test('a JWT issued for the management scope registry:api:* carries its subject’s own rights to /api/', async (t) => {
  const fx = await setup(t);
  const adminApi = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'registry:api:*');
  const r = await fx.request.put('/api/repository/secret/visibility').set('Authorization', bearer(adminApi)).send({ visibility: 'public' });
  t.equal(r.status, 200, 'admin with the management scope changes visibility');
  t.equal((await fx.request.post('/api/users/bob/tokens').set('Authorization', bearer(adminApi)).send({ name: 'by-jwt' })).status, 201);

  const bobApi = await seedToken(fx.request, 'bob', 'bob-password', 'registry:api:*');
  t.equal((await fx.request.post('/api/users').set('Authorization', bearer(bobApi)).send({ username: 'eve', password: 'eve-password' })).status, 403, 'not an admin: still refused');
  t.equal((await fx.request.post('/api/users/bob/tokens').set('Authorization', bearer(bobApi)).send({ name: 'self' })).status, 201, 'bob manages his own tokens with it');
  t.equal((await fx.request.delete('/api/users/carol/tokens/x').set('Authorization', bearer(bobApi))).status, 403, "but not carol's");

  // A scoped access token cannot obtain the management scope (it never carries its owner's admin rights).
  const scoped = await fx.request.post('/api/users/admin/tokens').set('Authorization', ADMIN).send({ name: 'scoped', scopes: ['repository:secret/*:pull'] });
  t.equal(scoped.status, 201);
  const viaScoped = await seedToken(fx.request, 'admin', scoped.body.token, ['registry:api:*', 'repository:secret/app:pull']);
  t.equal((await fx.request.get('/api/users').set('Authorization', bearer(viaScoped))).status, 401, 'scoped access token: no management scope granted');
  t.equal((await fx.request.post('/api/users/admin/tokens').set('Authorization', ADMIN).send({ name: 'bad', scopes: ['registry:api:*'] })).status, 400, 'not an access-token scope');
});
