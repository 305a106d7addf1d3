/**
 * What a reviewer would try against the token auth: forged and mangled JWTs, scope games, tokens used
 * beyond their grant, revoked credentials, path tricks. Every one must be refused.
 */
import t from 'tap';

import { createPublicKey, createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { authFixture, basic, ADMIN_PASSWORD, type AuthFixture, type TapTest } from './harness.js';
import { bearer, pushAs, uniqueImage, seedToken } from './client.js';


const b64url = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

async function setup(t: TapTest) {
  const fx = await authFixture(t);
  const admin = basic('admin', ADMIN_PASSWORD);
  t.equal((await pushAs(fx.request, 'team-a/app', uniqueImage(), 'v1', admin)).status, 201);
  t.equal((await pushAs(fx.request, 'team-b/app', uniqueImage(), 'v1', admin)).status, 201);
  const jwks = (await fx.request.get('/api/auth/jwks')).body as { keys: { kid: string }[] };
  const kid = jwks.keys[0]!.kid;
  // The registry's own signing key, as stored in its database (a forgery needs it to be a control case).
  const privateKey = fx.auth.keys!.signingKey().privateKey;
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'nitro-registry',
    sub: 'admin',
    aud: 'nitro-repo',
    iat: now,
    nbf: now,
    exp: now + 300,
    auth_method: 'password',
    access: [{ type: 'repository', name: 'team-a/app', actions: ['pull', 'push', 'delete'] }],
  };
  const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, ...header }).sign(privateKey);
  return { fx, admin, kid, privateKey, claims, now, sign };
}

const getManifest = (fx: AuthFixture, name: string, token: string) =>
  fx.request.get(`/v2/${name}/manifests/v1`).set('Authorization', bearer(token));

t.test('a correctly signed token works (control for the forgeries below)', async (t) => {
  const { fx, claims, sign } = await setup(t);
  t.equal((await getManifest(fx, 'team-a/app', await sign(claims))).status, 200);
});

t.test('alg:none is refused', async (t) => {
  const { fx, claims, kid } = await setup(t);
  const token = `${b64url({ alg: 'none', kid, typ: 'JWT' })}.${b64url(claims)}.`;
  const r = await getManifest(fx, 'team-a/app', token);
  t.equal(r.status, 401);
  t.match(r.headers['www-authenticate'], /error="invalid_token"/);
});

t.test('HS256 signed with the public key is refused', async (t) => {
  const { fx, claims, kid, privateKey } = await setup(t);
  const pem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const head = b64url({ alg: 'HS256', kid, typ: 'JWT' });
  const body = b64url(claims);
  const mac = createHmac('sha256', pem).update(`${head}.${body}`).digest('base64url');
  t.equal((await getManifest(fx, 'team-a/app', `${head}.${body}.${mac}`)).status, 401);
});

t.test('a token signed by another key is refused, whatever kid it claims', async (t) => {
  const { fx, claims, kid } = await setup(t);
  const { privateKey: other } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(other);
  t.equal((await getManifest(fx, 'team-a/app', forged)).status, 401, 'our kid, wrong key');
  const otherKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'attacker' }).sign(other);
  t.equal((await getManifest(fx, 'team-a/app', otherKid)).status, 401, 'unknown kid');
});

t.test('forged kid with our key, expired, not yet valid, wrong audience or issuer: refused', async (t) => {
  const { fx, claims, now, sign } = await setup(t);
  const cases: [string, Promise<string>][] = [
    ['kid not ours', sign(claims, { kid: 'someone-else' })],
    ['expired beyond the leeway', sign({ ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 60 })],
    ['not yet valid', sign({ ...claims, nbf: now + 120 })],
    ['wrong audience', sign({ ...claims, aud: 'other-service' })],
    ['wrong issuer', sign({ ...claims, iss: 'evil' })],
    ['no access claim', sign({ ...claims, access: undefined })],
    ['malformed access claim', sign({ ...claims, access: 'repository:team-a/app:pull' })],
    ['access-token method without tid', sign({ ...claims, auth_method: 'access-token' })],
    ['unknown subject', sign({ ...claims, sub: 'ghost' })],
  ];
  for (const [what, token] of cases) t.equal((await getManifest(fx, 'team-a/app', await token)).status, 401, what);
  t.equal((await getManifest(fx, 'team-a/app', 'not.a.jwt')).status, 401, 'garbage');
  t.equal((await getManifest(fx, 'team-a/app', await sign({ ...claims, exp: now - 5, iat: now - 100, nbf: now - 100 }))).status, 200, 'within the leeway');
});

t.test('a token for repository A is refused on B; a pull token cannot push or delete', async (t) => {
  const { fx } = await setup(t);
  const pullA = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:team-a/app:pull');
  t.equal((await getManifest(fx, 'team-a/app', pullA)).status, 200);
  const onB = await getManifest(fx, 'team-b/app', pullA);
  t.equal(onB.status, 401);
  t.match(onB.headers['www-authenticate'], /scope="repository:team-b\/app:pull",error="insufficient_scope"/);
  const push = await pushAs(fx.request, 'team-a/app', uniqueImage(), 'v2', bearer(pullA));
  t.equal(push.status, 401, 'pull token used to push');
  const del = await fx.request.delete('/v2/team-a/app/manifests/v1').set('Authorization', bearer(pullA));
  t.equal(del.status, 401, 'pull token used to delete');
  t.equal((await getManifest(fx, 'team-a/app', pullA)).status, 200, 'still there');
});

t.test('scope strings with extra colons or bad names grant nothing', async (t) => {
  const { fx, admin } = await setup(t);
  for (const scope of [
    'repository:team-a/app:extra:pull',
    'repository:team-a/app:pull:push',
    'repository:localhost:5000/team-a/app:pull',
    'repository:../team-a/app:pull',
    'repository:team-a/../team-b/app:pull',
    'repository:Team-A/App:pull',
    'repository:team-a/app:admin',
    'repository:*:pull',
    'registry:catalog:pull',
    'repository:team-a/app',
  ]) {
    const r = await fx.request.get(`/api/auth/token?service=nitro-repo&scope=${encodeURIComponent(scope)}`).set('Authorization', admin);
    t.equal(r.status, 200, `asking for ${scope} is not an error`);
    t.same(decodeJwt(r.body.token).access, [], `…and grants nothing`);
  }
});

t.test('path tricks in names are refused', async (t) => {
  const { fx } = await setup(t);
  const tokenA = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:team-a/app:pull');
  const dotdot = await fx.request.get('/v2/team-a/app/../../team-b/app/manifests/v1').set('Authorization', bearer(tokenA));
  t.not(dotdot.status, 200, '../ traversal does not reach team-b with a team-a token');
  const encoded = await fx.request.get('/v2/team-a%2F..%2Fteam-b%2Fapp/manifests/v1').set('Authorization', bearer(tokenA));
  t.equal(encoded.status, 400, 'encoded traversal is an invalid name');
  const upper = await fx.request.get('/v2/TEAM-A/app/manifests/v1').set('Authorization', bearer(tokenA));
  t.equal(upper.status, 400);
});

t.test('revoked access tokens, deleted users and JWT self-renewal are refused', async (t) => {
  const { fx, admin } = await setup(t);
  t.equal((await fx.request.post('/api/users').set('Authorization', admin).send({ username: 'ci', password: 'ci-password-1' })).status, 201);
  const pat = (await fx.request.post('/api/users/ci/tokens').set('Authorization', admin).send({ name: 'build', scopes: ['repository:team-a/app:pull'] })).body.token as string;
  const jwt = await seedToken(fx.request, 'ci', pat, 'repository:team-a/app:pull');
  t.equal(decodeJwt(jwt).auth_method, 'access-token');
  t.equal((await getManifest(fx, 'team-a/app', jwt)).status, 200, 'before revocation');
  t.equal((await fx.request.delete('/api/users/ci/tokens/build').set('Authorization', admin)).status, 204);
  t.equal((await getManifest(fx, 'team-a/app', jwt)).status, 401, 'the JWT dies with its access token');
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('ci', pat))).status, 401, 'and the token itself');

  const pwJwt = await seedToken(fx.request, 'ci', 'ci-password-1', 'repository:team-a/app:pull');
  const renew = await fx.request.get('/api/auth/token?service=nitro-repo&scope=repository:team-a/app:pull').set('Authorization', bearer(pwJwt));
  t.equal(renew.status, 401, 'a JWT cannot be exchanged for a new JWT');
  t.equal((await fx.request.delete('/api/users/ci').set('Authorization', admin)).status, 204);
  t.equal((await getManifest(fx, 'team-a/app', pwJwt)).status, 401, 'the JWT dies with its user');
});

t.test('scoped access tokens never carry admin rights; non-admins cannot use the admin API', async (t) => {
  const { fx, admin } = await setup(t);
  const scoped = (await fx.request.post('/api/users/admin/tokens').set('Authorization', admin).send({ name: 'narrow', scopes: ['repository:team-a/app:pull'] })).body.token as string;
  const r = await fx.request.post('/api/users').set('Authorization', basic('admin', scoped)).send({ username: 'x', password: 'xxxxxxxxxx' });
  t.equal(r.status, 403);
  t.equal((await fx.request.get('/v2/team-b/app/manifests/v1').set('Authorization', basic('admin', scoped))).status, 403, 'scope limits Basic too');
  t.equal((await fx.request.post('/api/users').send({ username: 'x', password: 'xxxxxxxxxx' })).status, 401, 'anonymous');
  await fx.request.post('/api/users').set('Authorization', admin).send({ username: 'bob', password: 'bob-password' });
  t.equal((await fx.request.get('/api/repository').set('Authorization', basic('bob', 'bob-password'))).status, 403, 'non-admin');
  t.equal((await fx.request.post('/api/users/admin/tokens').set('Authorization', basic('bob', 'bob-password')).send({ name: 'steal' })).status, 403, "no tokens for someone else's account");
});

t.test('a cross-repository mount from a named source needs that source in the token, not only in the account', async (t) => {
  const fx = await authFixture(t);
  const admin = basic('admin', ADMIN_PASSWORD);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'secret/data', img, 'v1', admin)).status, 201);
  const layer = img.blobs[img.blobs.length - 1]!.digest;
  const narrow = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, 'repository:bob/x:pull,push');
  const viaToken = await fx.request.post(`/v2/bob/x/blobs/uploads/?mount=${layer}&from=secret/data`).set('Authorization', bearer(narrow));
  t.equal(viaToken.status, 401, 'a token for bob/x only is asked to come back with the source in it');
  t.match(String(viaToken.headers['www-authenticate']), /scope="repository:bob\/x:pull,push repository:secret\/data:pull",error="insufficient_scope"/);
  t.equal((await fx.request.head(`/v2/bob/x/blobs/${layer}`).set('Authorization', admin)).status, 404, 'nothing was mounted');
  const both = await seedToken(fx.request, 'admin', ADMIN_PASSWORD, ['repository:bob/x:pull,push', 'repository:secret/data:pull']);
  t.equal((await fx.request.post(`/v2/bob/x/blobs/uploads/?mount=${layer}&from=secret/data`).set('Authorization', bearer(both))).status, 201, 'with the source in the token it mounts');
});

t.test('the 401 challenge for a mount asks for pull on `from` too, so a client that follows it gets a token that mounts', async (t) => {
  const fx = await authFixture(t);
  const admin = basic('admin', ADMIN_PASSWORD);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'secret/data', img, 'v1', admin)).status, 201);
  const layer = img.blobs[img.blobs.length - 1]!.digest;
  const path = `/v2/bob/x/blobs/uploads/?mount=${layer}&from=secret/data`;
  const first = await fx.request.post(path);
  t.equal(first.status, 401);
  const header = String(first.headers['www-authenticate']);
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  // One scope parameter, scopes separated by a space (how CNCF Distribution writes several).
  t.equal(params.scope, 'repository:bob/x:pull,push repository:secret/data:pull');
  const realm = new URL(params.realm!);
  const q = new URLSearchParams({ service: params.service!, scope: params.scope! });
  const tokenRes = await fx.request.get(`${realm.pathname}?${q}`).set('Authorization', admin);
  t.equal(tokenRes.status, 200);
  const token = (tokenRes.body as { token: string }).token;
  const mounted = await fx.request.post(path).set('Authorization', bearer(token));
  t.equal(mounted.status, 201, 'the token from the challenge mounts');
  t.equal(mounted.headers['docker-content-digest'], layer);
  // An account that may not pull the source is not refused: it gets an upload session, nothing mounted.
  const privateFx = await authFixture(t, {
    repositories: [{ name: 'vault', visibility: 'private', config: { type: 'Hosted', push_rules: { must_be_project_member: true } } }],
  });
  const img2 = uniqueImage();
  t.equal((await pushAs(privateFx.request, 'vault/data', img2, 'v1', admin)).status, 201);
  t.equal((await privateFx.request.post('/api/users').set('Authorization', admin).send({ username: 'bob', password: 'bob-password' })).status, 201);
  const layer2 = img2.blobs[img2.blobs.length - 1]!.digest;
  const bobToken = await seedToken(privateFx.request, 'bob', 'bob-password', ['repository:bob/x:pull,push', 'repository:vault/data:pull']);
  const fallback = await privateFx.request.post(`/v2/bob/x/blobs/uploads/?mount=${layer2}&from=vault/data`).set('Authorization', bearer(bobToken));
  t.equal(fallback.status, 202, 'no access to the source: an upload session');
  t.equal((await privateFx.request.head(`/v2/bob/x/blobs/${layer2}`).set('Authorization', admin)).status, 404, 'nothing was mounted');
  // Without a mount (or mounting from the target itself) the challenge names only the target.
  const plain = await fx.request.post('/v2/bob/x/blobs/uploads/');
  t.match(String(plain.headers['www-authenticate']), /scope="repository:bob\/x:pull,push"/);
  const self = await fx.request.post(`/v2/bob/x/blobs/uploads/?mount=${layer}&from=bob/x`);
  t.match(String(self.headers['www-authenticate']), /scope="repository:bob\/x:pull,push"/);
});
