/**
 * The token flow end to end: challenge, the quick reference's POST form, GET (docker login style with
 * offline_token), OAuth2 password and refresh_token grants, anonymous tokens, Basic on /v2, the catalog,
 * JWKS, the login rate limit, bootstrap admin and "no secret in logs".
 */
import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { jwtVerify, createLocalJWKSet, decodeJwt } from 'jose';
import { authFixture, basic, ADMIN_PASSWORD } from './harness.js';
import { bearer, pushAs, uniqueImage, seedToken } from './client.js';


t.test('anonymous /v2/ gets the Bearer challenge', async (t) => {
  const fx = await authFixture(t);
  const r = await fx.request.get('/v2/').set('Host', 'registry.example.com:5000');
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Bearer realm="http://registry.example.com:5000/api/auth/token",service="nitro-repo"');
  t.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  t.same(r.body.errors.map((e: { code: string }) => e.code), ['UNAUTHORIZED']);

  const push = await fx.request.post('/v2/my-project/myapp/blobs/uploads/').set('Host', 'h');
  t.equal(push.status, 401);
  t.match(push.headers['www-authenticate'], /scope="repository:my-project\/myapp:pull,push"/);
});

t.test('realm: external_url wins; X-Forwarded-* only when trusted', async (t) => {
  const a = await authFixture(t, { auth: { external_url: 'https://reg.example.com/' } });
  const r1 = await a.request.get('/v2/').set('X-Forwarded-Host', 'evil.example');
  t.match(r1.headers['www-authenticate'], /^Bearer realm="https:\/\/reg\.example\.com\/api\/auth\/token"/);
  const b = await authFixture(t);
  const r2 = await b.request.get('/v2/').set('Host', 'good:1').set('X-Forwarded-Host', 'evil.example').set('X-Forwarded-Proto', 'https');
  t.match(r2.headers['www-authenticate'], /realm="http:\/\/good:1\//, 'forwarded headers ignored by default');
  const c = await authFixture(t, { auth: { trust_forwarded_headers: true } });
  const r3 = await c.request.get('/v2/').set('Host', 'good:1').set('X-Forwarded-Host', 'proxy.example').set('X-Forwarded-Proto', 'https');
  t.match(r3.headers['www-authenticate'], /realm="https:\/\/proxy\.example\/api\/auth\/token"/);
  const r4 = await b.request.get('/v2/').set('Host', 'bad"host');
  t.notMatch(r4.headers['www-authenticate'], /bad"host/, 'a hostile Host header never lands in the challenge');
});

t.test("the quick reference's token request, then catalog and pushes with the token", async (t) => {
  const fx = await authFixture(t);
  const token = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:myapp:pull,push');
  const claims = decodeJwt(token);
  t.equal(claims.aud, 'nitro-repo');
  t.equal(claims.sub, 'admin');
  t.equal(claims.auth_method, 'password', 'the JWT records that a password was used');
  t.same(claims.access, [{ type: 'repository', name: 'myapp', actions: ['pull', 'push'] }]);

  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'myapp', img, 'latest', bearer(token))).status, 201, 'push with the token');
  const cat = await fx.request.get('/v2/_catalog').set('Authorization', bearer(token));
  t.equal(cat.status, 200, 'a repository-scoped token of an account may list the catalog');
  t.same(cat.body.repositories, ['myapp']);

  const other = await pushAs(fx.request, 'other', uniqueImage(), 'latest', bearer(token));
  t.equal(other.status, 401, 'the token is not valid for another repository');
  t.match(other.headers['www-authenticate'], /error="insufficient_scope"/);
});

t.test('response shape; GET with offline_token → refresh_token; OAuth2 grants', async (t) => {
  const fx = await authFixture(t);
  const g = await fx.request
    .get('/api/auth/token?account=admin&client_id=docker&offline_token=true&service=nitro-repo&scope=repository:a/b:pull&scope=repository:c:push')
    .set('Authorization', basic('admin', ADMIN_PASSWORD));
  t.equal(g.status, 200);
  t.equal(g.body.token, g.body.access_token);
  t.type(g.body.expires_in, 'number');
  t.ok(!Number.isNaN(Date.parse(g.body.issued_at)), 'issued_at is a date');
  t.match(g.body.refresh_token, /^nrr_/);
  t.same(decodeJwt(g.body.token).access, [
    { type: 'repository', name: 'a/b', actions: ['pull'] },
    { type: 'repository', name: 'c', actions: ['push'] },
  ]);
  t.equal(g.headers['cache-control'], 'no-store');

  const refreshed = await fx.request
    .post('/api/auth/token')
    .type('form')
    .send({ grant_type: 'refresh_token', refresh_token: g.body.refresh_token, service: 'nitro-repo', client_id: 'docker', scope: 'repository:a/b:pull,push' });
  t.equal(refreshed.status, 200);
  t.same(decodeJwt(refreshed.body.token).access, [{ type: 'repository', name: 'a/b', actions: ['pull', 'push'] }]);
  t.equal(decodeJwt(refreshed.body.token).auth_method, 'password', 'refresh keeps how the subject authenticated');

  const pw = await fx.request
    .post('/api/auth/token')
    .type('form')
    .send({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD, service: 'nitro-repo', client_id: 'ci', access_type: 'offline', scope: 'repository:x:pull' });
  t.equal(pw.status, 200);
  t.match(pw.body.refresh_token, /^nrr_/);

  const bad = await fx.request.post('/api/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'nrr_nope' });
  t.equal(bad.status, 401);
  const badGrant = await fx.request.post('/api/auth/token').type('form').send({ grant_type: 'client_credentials' });
  t.equal(badGrant.status, 400);
  t.equal(badGrant.body.error, 'unsupported_grant_type');
  const badService = await fx.request.get('/api/auth/token?service=elsewhere');
  t.equal(badService.status, 400);

  for (const alias of ['/v2/token', '/api/docker/token']) {
    const r = await fx.request.get(`${alias}?service=nitro-repo&scope=repository:z:pull`).set('Authorization', basic('admin', ADMIN_PASSWORD));
    t.equal(r.status, 200, `${alias} is an alias`);
  }
});

t.test('anonymous tokens pull public repositories only; asking too much is not an error', async (t) => {
  const fx = await authFixture(t, { repositories: [{ name: 'secret', visibility: 'private' }] });
  const admin = basic('admin', ADMIN_PASSWORD);
  t.equal((await pushAs(fx.request, 'pub/app', uniqueImage(), 'v1', admin)).status, 201);
  t.equal((await pushAs(fx.request, 'secret/app', uniqueImage(), 'v1', admin)).status, 201);

  const r = await fx.request.get('/api/auth/token?service=nitro-repo&scope=repository:pub/app:pull,push,delete&scope=repository:secret/app:pull&scope=registry:catalog:*');
  t.equal(r.status, 200);
  t.same(decodeJwt(r.body.token).access, [{ type: 'repository', name: 'pub/app', actions: ['pull'] }]);
  t.equal(decodeJwt(r.body.token).sub, '');
  t.equal((await fx.request.get('/v2/pub/app/manifests/v1').set('Authorization', bearer(r.body.token))).status, 200);
  t.equal((await fx.request.get('/v2/pub/app/manifests/v1')).status, 200, 'and without any token (curl in the quick reference)');
  const priv = await fx.request.get('/v2/secret/app/manifests/v1');
  t.equal(priv.status, 401, 'private repository asks for credentials');
  t.match(priv.headers['www-authenticate'], /scope="repository:secret\/app:pull"/);
  t.equal((await fx.request.get('/v2/_catalog').set('Authorization', bearer(r.body.token))).status, 401, 'anonymous tokens do not list');
});

t.test('Basic on /v2 with passwords containing ":"; wrong password 401; rate limit 429', async (t) => {
  const fx = await authFixture(t, { auth: { login_rate_limit: { max_failures: 3, window_seconds: 60 } } });
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('admin', ADMIN_PASSWORD))).status, 200, 'password with colons');
  for (let i = 0; i < 3; i++) {
    const r = await fx.request.get('/v2/').set('Authorization', basic('admin', 'wrong-password'));
    t.equal(r.status, 401, `failure ${i + 1} is a 401`);
    t.notMatch(JSON.stringify(r.body), /wrong-password/, 'the secret is not echoed');
  }
  const limited = await fx.request.get('/v2/').set('Authorization', basic('admin', ADMIN_PASSWORD));
  t.equal(limited.status, 429, 'then even the right password waits');
  t.same(limited.body.errors.map((e: { code: string }) => e.code), ['TOOMANYREQUESTS']);
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After');
  const tokenLimited = await fx.request.post('/api/auth/token').type('form').send({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
  t.equal(tokenLimited.status, 429, 'the token endpoint shares the limit');
  t.equal((await fx.request.get('/v2/').set('Authorization', 'Basic !!!')).status, 401, 'malformed Basic');
  t.equal((await fx.request.get('/v2/').set('Authorization', 'Digest x')).status, 401, 'unknown scheme');

  const log = fx.logText();
  t.notMatch(log, new RegExp(ADMIN_PASSWORD), 'no password in the logs');
  t.notMatch(log, /wrong-password/);
  t.ok(fx.logLines.some((l) => l.audit === true && l.event === 'login_failed'), 'failed logins are audited');
  t.ok(fx.logLines.some((l) => l.audit === true && l.event === 'login_rate_limited'), 'rate limiting is audited');
});

t.test('JWKS verifies issued tokens', async (t) => {
  const fx = await authFixture(t);
  const jwks = await fx.request.get('/api/auth/jwks');
  t.equal(jwks.status, 200);
  t.equal(jwks.body.keys.length, 1);
  t.notOk('d' in jwks.body.keys[0], 'no private part');
  const wk = await fx.request.get('/.well-known/jwks.json');
  t.same(wk.body, jwks.body);
  const token = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:a:pull');
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks.body), { audience: 'nitro-repo', issuer: 'nitro-registry' });
  t.equal(protectedHeader.alg, 'ES256');
  t.equal(protectedHeader.kid, jwks.body.keys[0].kid);
  t.equal(payload.sub, 'admin');
  t.ok(createPublicKey({ key: jwks.body.keys[0], format: 'jwk' }), 'a usable public key');
});

t.test('bootstrap admin: configured, from the environment, or generated and reported once', async (t) => {
  const gen = await authFixture(t, { auth: { admin_password: null } });
  t.equal(gen.auth.startupMessages.filter((m) => /generated password/.test(m)).length, 1);
  const pw = /generated password (\S+)/.exec(gen.auth.startupMessages.join('\n'))![1]!;
  t.equal((await gen.request.get('/v2/').set('Authorization', basic('admin', pw))).status, 200, 'the generated password works');
  t.notMatch(gen.logText(), new RegExp(pw), 'and is not in the logs');

  const env = await authFixture(t, { auth: { admin_password: null }, env: { NITRO_REGISTRY_ADMIN_PASSWORD: 'from-the-env-123' } });
  t.equal((await env.request.get('/v2/').set('Authorization', basic('admin', 'from-the-env-123'))).status, 200);
  t.notMatch(env.auth.startupMessages.join('\n'), /from-the-env-123/);
});
