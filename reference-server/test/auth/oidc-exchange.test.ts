/**
 * Keyless CI, accepted paths: an OIDC token of a trusted issuer, exchanged for a registry token (GET with
 * Basic `oidc:<token>` as docker login sends it, the quick reference's POST with Basic, RFC 8693 token
 * exchange), grants exactly requested ∩ the matched rules and expires with the OIDC token at the latest;
 * pushes with it are audited with the workflow run; must_use_auth_token_for_push accepts it.
 */
import t from 'tap';
import { decodeJwt } from 'jose';
import { basic, ADMIN_PASSWORD } from './harness.js';
import { bearer, pushAs, uniqueImage } from './client.js';
import { githubClaims } from '../helpers/oidc-issuer.js';
import { exchange, getWithBasic, oidcFixture } from './oidc-fixture.js';

const ADMIN = basic('admin', ADMIN_PASSWORD);
const codes = (body: unknown) => ((body as { errors?: { code: string }[] }).errors ?? []).map((e) => e.code);

t.test('docker login style: challenge → GET Basic oidc:<token> → Bearer; the JWT is requested ∩ rule, no refresh token', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const challenge = await fx.request.get('/v2/');
  t.equal(challenge.status, 401);
  const oidcToken = await issuer.token({ expiresIn: 120 });
  const r = await fx.request
    .get('/api/auth/token?account=oidc&client_id=docker&offline_token=true&service=nitro-repo')
    .set('Authorization', basic('oidc', oidcToken));
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.notOk(r.body.refresh_token, 'no refresh token: a workload comes back with a fresh OIDC token');
  const base = await fx.request.get('/v2/').set('Authorization', bearer(r.body.token));
  t.equal(base.status, 200, 'the registry token opens /v2/');
  t.equal((await fx.request.get('/v2/').set('Authorization', basic('oidc', oidcToken))).status, 200, 'Basic oidc:<token> on /v2/ directly works too');

  const scoped = await getWithBasic(fx, oidcToken, ['repository:acme/app:pull,push,delete', 'repository:acme/other:pull,push', 'registry:catalog:*']);
  t.equal(scoped.status, 200);
  const claims = decodeJwt(scoped.body.token);
  t.equal(claims.auth_method, 'oidc');
  t.equal(claims.sub, '', 'no account subject');
  t.same(claims.access, [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }], 'exactly the rule: no delete, no other repository, no catalog');
  t.same((claims.workload as { claims: Record<string, string> }).claims.run_id, '4242424242');
  const oidcExp = decodeJwt(oidcToken).exp!;
  t.ok(claims.exp! <= oidcExp, `registry token exp ${claims.exp} ≤ OIDC exp ${oidcExp}`);
  t.ok(scoped.body.expires_in <= 120, `expires_in ${scoped.body.expires_in} follows the OIDC token`);

  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'acme/app', img, 'v1', bearer(scoped.body.token))).status, 201, 'push with the registry token');
  const other = await pushAs(fx.request, 'acme/other', uniqueImage(), 'v1', bearer(scoped.body.token));
  t.equal(other.status, 403, 'push to another repository denied');
  t.same(codes(other.body), ['DENIED']);
  t.match(other.body.errors[0].message, /no auth\.oidc rule grants (pull|push) on acme\/other/);
  const otherBasic = await pushAs(fx.request, 'acme/other', uniqueImage(), 'v1', basic('oidc', oidcToken));
  t.equal(otherBasic.status, 403, 'also with Basic directly');
  const del = await fx.request.delete(`/v2/acme/app/manifests/${img.digest}`).set('Authorization', bearer(scoped.body.token));
  t.equal(del.status, 403, 'delete is not granted by the rule');
  const cat = await fx.request.get('/v2/_catalog').set('Authorization', bearer(scoped.body.token));
  t.equal(cat.status, 200);
  t.same(cat.body.repositories, ['acme/app'], 'the catalog lists only what the workflow may pull');
  const admin = await fx.request.get('/api/users').set('Authorization', basic('oidc', oidcToken));
  t.equal(admin.status, 403, 'a workload is never an administrator');
});

t.test('the quick reference POST (Basic + form) and RFC 8693 token exchange', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const oidcToken = await issuer.token();
  const post = await fx.request
    .post('/api/auth/token')
    .set('Authorization', basic('oidc', oidcToken))
    .type('form')
    .send('service=nitro-repo&scope=repository%3Aacme%2Fapp%3Apull%2Cpush');
  t.equal(post.status, 200);
  t.same(decodeJwt(post.body.token).access, [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }]);

  const ex = await exchange(fx, oidcToken, 'repository:acme/app:pull,push repository:acme/app:delete');
  t.equal(ex.status, 200, JSON.stringify(ex.body));
  t.equal(ex.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
  t.equal(ex.body.token_type, 'Bearer');
  t.same(decodeJwt(ex.body.access_token).access, [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }]);
  t.equal((await pushAs(fx.request, 'acme/app', uniqueImage(), 'ex', bearer(ex.body.access_token))).status, 201);

  const idType = await exchange(fx, oidcToken, 'repository:acme/app:pull', { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' });
  t.equal(idType.status, 200, 'subject_token_type id_token is accepted too');
  const badType = await exchange(fx, oidcToken, 'repository:acme/app:pull', { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  t.equal(badType.status, 400);
  t.equal(badType.body.error, 'invalid_request');
  const badAud = await exchange(fx, oidcToken, 'repository:acme/app:pull', { audience: 'somebody-else' });
  t.equal(badAud.status, 400);
  t.equal(badAud.body.error, 'invalid_target');
  const missing = await exchange(fx, '', 'repository:acme/app:pull');
  t.equal(missing.status, 401, 'no subject_token: refused');
});

t.test('glob rules: a tag of any acme repository may push, pull and delete under acme/releases/**', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const tagToken = await issuer.token({ claims: githubClaims({ repository: 'acme/tools', ref: 'refs/tags/v1.2.3' }) });
  const r = await getWithBasic(fx, tagToken, ['repository:acme/releases/tools:pull,push,delete', 'repository:acme/app:pull,push', 'repository:acme/releases:push']);
  t.equal(r.status, 200);
  t.same(decodeJwt(r.body.token).access, [{ type: 'repository', name: 'acme/releases/tools', actions: ['pull', 'push', 'delete'] }]);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'acme/releases/tools', img, 'v1.2.3', bearer(r.body.token))).status, 201);
  t.equal((await fx.request.delete(`/v2/acme/releases/tools/manifests/${img.digest}`).set('Authorization', bearer(r.body.token))).status, 202, 'delete granted by this rule');
  const branch = await issuer.token({ claims: githubClaims({ repository: 'acme/tools', ref: 'refs/heads/main' }) });
  t.equal((await getWithBasic(fx, branch, ['repository:acme/releases/tools:push'])).status, 401, 'a branch of acme/tools matches no rule');
  const nested = await issuer.token({ claims: githubClaims({ repository: 'acme/tools', ref: 'refs/tags/v1/evil' }) });
  t.equal((await getWithBasic(fx, nested, ['repository:acme/releases/tools:push'])).status, 401, '`*` never crosses a "/"');
});

t.test('audit lines carry the workflow run; the token is never logged', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const oidcToken = await issuer.token();
  const r = await getWithBasic(fx, oidcToken, ['repository:acme/app:pull,push']);
  const img = uniqueImage();
  t.equal((await pushAs(fx.request, 'acme/app', img, 'v1', bearer(r.body.token))).status, 201);
  await pushAs(fx.request, 'acme/other', uniqueImage(), 'v1', bearer(r.body.token));
  const audit = fx.logLines.filter((l) => l.audit === true);
  const want = { issuer: issuer.issuer, subject: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app', ref: 'refs/heads/main', workflow: 'release', run_id: '4242424242', actor: 'octocat' };
  for (const event of ['oidc_exchange', 'token_issued', 'push', 'denied']) {
    const line = audit.find((l) => l.event === event && l.oidc);
    t.ok(line, `audit ${event} line with the workload`);
    t.match(line?.oidc, want, `${event}: repository, ref, workflow, run_id, actor`);
  }
  t.equal(audit.find((l) => l.event === 'push')?.method, 'oidc');
  t.equal(fx.logText().includes(oidcToken.split('.')[2]!), false, 'the OIDC token is not in the log');
  t.equal(fx.logText().includes(r.body.token.split('.')[2]), false, 'the registry token is not in the log');
});

t.test('must_use_auth_token_for_push accepts an OIDC workload; project membership is the rules’ business', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const created = await fx.request
    .post('/api/repository')
    .set('Authorization', ADMIN)
    .send({
      name: 'acme',
      visibility: 'private',
      config: { type: 'Hosted', push_rules: { allow_tag_overwrite: true, must_be_project_member: true, must_use_auth_token_for_push: true, require_content_trust: false } },
    });
  t.equal(created.status, 201);
  const oidcToken = await issuer.token();
  const r = await getWithBasic(fx, oidcToken, ['repository:acme/app:pull,push']);
  t.equal((await pushAs(fx.request, 'acme/app', uniqueImage(), 'v1', bearer(r.body.token))).status, 201, 'OIDC push accepted');
  t.equal((await pushAs(fx.request, 'acme/app', uniqueImage(), 'v2', basic('oidc', oidcToken))).status, 201, 'Basic OIDC push accepted');
  const pw = await pushAs(fx.request, 'acme/app', uniqueImage(), 'v3', ADMIN);
  t.equal(pw.status, 403, 'a password push still refused');
  t.match(pw.body.errors[0].message, /must_use_auth_token_for_push/);
});

t.test('the user name oidc is reserved; without auth.oidc it is just a failing login', async (t) => {
  const { fx } = await oidcFixture(t);
  const create = await fx.request.post('/api/users').set('Authorization', ADMIN).send({ username: 'oidc', password: 'some-password-1' });
  t.equal(create.status, 400, 'no account may be called oidc');
  t.match(JSON.stringify(create.body), /reserved/);

  const { authFixture } = await import('./harness.js');
  const plain = await authFixture(t);
  const { startOidcIssuer } = await import('../helpers/oidc-issuer.js');
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  const r = await getWithBasic(plain, await issuer.token(), ['repository:acme/app:pull']);
  t.equal(r.status, 401, 'a registry without auth.oidc refuses OIDC tokens');
  const ex = await exchange(plain, await issuer.token(), 'repository:acme/app:pull');
  t.equal(ex.status, 400);
  t.equal(ex.body.error, 'unsupported_grant_type');
});
