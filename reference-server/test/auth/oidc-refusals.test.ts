/**
 * Keyless CI, refused paths: every way an OIDC token can be wrong is a 401 UNAUTHORIZED with a reason,
 * audited as login_failed, and never yields a registry token. Also: key rotation at the issuer is
 * picked up (unknown kid → JWKS refetched), and a token replayed after it expired is refused, as is
 * the registry token made from it.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { githubClaims, startOidcIssuer } from '../helpers/oidc-issuer.js';
import { bearer } from './client.js';
import { exchange, getWithBasic, oidcFixture } from './oidc-fixture.js';

const SCOPE = 'repository:acme/app:pull,push';

t.test('refused tokens: 401 with the reason, no registry token, audited', async (t) => {
  // Many failures from one address: the login rate limit (asserted below) would answer 429 instead.
  const { fx, issuer } = await oidcFixture(t, { issuerSettings: { clock_skew_seconds: 5 }, auth: { login_rate_limit: { max_failures: 1000 } } });
  const stranger = await startOidcIssuer();
  t.teardown(() => stranger.close());
  const cases: [string, string, RegExp][] = [
    ['wrong audience', await issuer.token({ audience: 'another-registry' }), /audience/],
    ['expired', await issuer.token({ issuedAt: -600, notBefore: -600, expiresIn: -60 }), /expired/],
    ['expired a second ago (exp is never stretched by the skew)', await issuer.token({ issuedAt: -300, notBefore: -300, expiresIn: -1 }), /expired/],
    ['not yet valid', await issuer.token({ notBefore: 120, issuedAt: 0 }), /not yet valid/],
    ['issued in the future', await issuer.token({ issuedAt: 120, notBefore: 0, expiresIn: 400 }), /future|iat/],
    ['unknown issuer', await stranger.token(), /is not trusted/],
    ['no issuer', await issuer.token({ claims: { iss: undefined } }), /not trusted/],
    ['trusted iss, signed by another key, kid not in JWKS', await issuer.token({ key: issuer.unpublished() }), /kid not in the issuer's JWKS/],
    ['trusted iss, signed by another key, published kid', await issuer.token({ key: issuer.unpublished(issuer.current().kid) }), /signature invalid/],
    ['alg none', issuer.algNone(), /algorithm none not accepted/],
    ['HS256 keyed with the public key', issuer.hs256(), /algorithm HS256 not accepted/],
    ['claims matching no rule', await issuer.token({ claims: githubClaims({ repository: 'evil/app' }) }), /no rule of issuer .* matches/],
    ['a rule for another ref', await issuer.token({ claims: githubClaims({ ref: 'refs/heads/dev' }) }), /no rule .*ref=refs\/heads\/dev/],
    ['a rule for another repository', await issuer.token({ claims: githubClaims({ repository: 'acme/app-fork' }) }), /no rule/],
    ['a matching claim that is not a string', await issuer.token({ claims: { repository: ['acme/app'] } }), /no rule/],
    ['no subject', await issuer.token({ claims: { sub: undefined } }), /sub/],
    ['not a JWT at all', 'hunter2', /not a JWT/],
  ];
  for (const [name, token, reason] of cases) {
    const r = await getWithBasic(fx, token, [SCOPE]);
    t.equal(r.status, 401, `${name}: 401`);
    t.same(r.body.errors?.map((e: { code: string }) => e.code), ['UNAUTHORIZED'], `${name}: UNAUTHORIZED`);
    t.match(r.body.errors?.[0]?.message, reason, `${name}: ${r.body.errors?.[0]?.message}`);
    t.notOk(r.body.token, `${name}: no token`);
    const ex = await exchange(fx, token, SCOPE);
    t.equal(ex.status, 401, `${name}: token exchange 401 too`);
    t.equal((await fx.request.get('/v2/').set('Authorization', `Basic ${Buffer.from(`oidc:${token}`).toString('base64')}`)).status, 401, `${name}: Basic on /v2/ 401`);
  }
  const failed = fx.logLines.filter((l) => l.audit === true && l.event === 'login_failed' && l.method === 'oidc');
  t.ok(failed.length >= cases.length, `${failed.length} login_failed audit lines`);
  t.notOk(fx.logLines.some((l) => l.event === 'token_issued'), 'no token was issued');
});

t.test('failed OIDC logins count against the login rate limit', async (t) => {
  const { fx, issuer } = await oidcFixture(t, { auth: { login_rate_limit: { max_failures: 3, window_seconds: 60 } } });
  const bad = await issuer.token({ audience: 'another-registry' });
  for (let i = 0; i < 3; i++) t.equal((await getWithBasic(fx, bad, [SCOPE])).status, 401);
  const limited = await getWithBasic(fx, await issuer.token(), [SCOPE]);
  t.equal(limited.status, 429, 'then even a good token waits');
  t.ok(limited.headers['retry-after'], 'with Retry-After');
  t.equal((await exchange(fx, await issuer.token(), SCOPE)).status, 429, 'token exchange is limited alike');
});

t.test('replay after expiry: the OIDC token and the registry token made from it both die at exp', async (t) => {
  const { fx, issuer } = await oidcFixture(t, { auth: { leeway_seconds: 0 } });
  const short = await issuer.token({ expiresIn: 2 });
  const r = await getWithBasic(fx, short, [SCOPE]);
  t.equal(r.status, 200);
  t.ok(r.body.expires_in <= 2, `registry token expires_in ${r.body.expires_in} ≤ 2`);
  t.equal((await fx.request.get('/v2/acme/app/tags/list').set('Authorization', bearer(r.body.token))).status, 404, 'usable while the OIDC token lives (no such repository yet)');
  await sleep(3100);
  const replay = await getWithBasic(fx, short, [SCOPE]);
  t.equal(replay.status, 401, 'the OIDC token replayed after exp');
  t.match(replay.body.errors[0].message, /expired/);
  const late = await fx.request.get('/v2/acme/app/tags/list').set('Authorization', bearer(r.body.token));
  t.equal(late.status, 401, 'the registry token expired with it');
});

t.test('key rotation at the issuer is picked up; JWKS is cached between tokens', async (t) => {
  const { fx, issuer } = await oidcFixture(t);
  const before = await issuer.token();
  t.equal((await getWithBasic(fx, before, [SCOPE])).status, 200);
  t.equal((await getWithBasic(fx, await issuer.token(), [SCOPE])).status, 200);
  t.equal(issuer.jwksFetches(), 1, 'one JWKS fetch for two tokens of the same key');

  await issuer.rotate({ keepOld: true });
  const after = await issuer.token();
  t.equal((await getWithBasic(fx, after, [SCOPE])).status, 200, 'a token with the new kid verifies');
  t.equal(issuer.jwksFetches(), 2, 'the unknown kid made the registry refetch the JWKS');
  t.equal((await getWithBasic(fx, before, [SCOPE])).status, 200, 'the old key is still published: its tokens still verify');

  await issuer.rotate();
  t.equal((await getWithBasic(fx, await issuer.token(), [SCOPE])).status, 200, 'second rotation picked up');
  const old = await getWithBasic(fx, before, [SCOPE]);
  t.equal(old.status, 401, 'the retired key is no longer trusted');
  t.match(old.body.errors[0].message, /kid not in the issuer's JWKS/);
});

t.test('discovery: the document must name the configured issuer; jwks_uri may be given instead', async (t) => {
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  const { authFixture } = await import('./harness.js');
  const rules = [{ match: { repository: 'acme/app' }, grant: [{ name: 'acme/app', actions: ['pull'] }] }];
  // The configured issuer has a trailing path the discovery document does not name.
  const wrongName = await authFixture(t, { auth: { oidc: [{ issuer: `${issuer.issuer}/`, audience: 'nitro-registry', allow_insecure_loopback: true, rules }] } });
  const token = await issuer.token({ claims: { iss: `${issuer.issuer}/` } });
  const r = await getWithBasic(wrongName, token, ['repository:acme/app:pull']);
  t.equal(r.status, 401);
  t.match(r.body.errors[0].message, /discovery document .* names another issuer/);

  const given = await authFixture(t, { auth: { oidc: [{ issuer: `${issuer.issuer}/`, audience: 'nitro-registry', jwks_uri: issuer.jwksUri, allow_insecure_loopback: true, rules }] } });
  t.equal((await getWithBasic(given, token, ['repository:acme/app:pull'])).status, 200, 'with jwks_uri configured, no discovery');
});

t.test('an https issuer with a private CA: trusted only through its ca_file', async (t) => {
  const { makePrivateCa } = await import('../../../test/action/helpers/private-ca.js');
  const { readFileSync } = await import('node:fs');
  const ca = makePrivateCa();
  t.teardown(() => ca.dispose());
  const issuer = await startOidcIssuer({ tls: { cert: readFileSync(ca.certFile), key: readFileSync(ca.keyFile) } });
  t.teardown(() => issuer.close());
  t.match(issuer.issuer, /^https:\/\/127\.0\.0\.1:/);
  const { authFixture } = await import('./harness.js');
  const rules = [{ match: { repository: 'acme/app' }, grant: [{ name: 'acme/app', actions: ['pull'] }] }];
  const trusting = await authFixture(t, { auth: { oidc: [{ issuer: issuer.issuer, audience: 'nitro-registry', ca_file: ca.caFile, rules }] } });
  t.equal((await getWithBasic(trusting, await issuer.token(), ['repository:acme/app:pull'])).status, 200, 'discovery and JWKS over https with the CA');
  const untrusting = await authFixture(t, { auth: { oidc: [{ issuer: issuer.issuer, audience: 'nitro-registry', rules }] } });
  const r = await getWithBasic(untrusting, await issuer.token(), ['repository:acme/app:pull']);
  t.equal(r.status, 401, 'without ca_file the certificate does not verify');
  t.match(r.body.errors[0].message, /cannot read the issuer's discovery document/);
  await t.rejects(
    authFixture(t, { auth: { oidc: [{ issuer: issuer.issuer, audience: 'nitro-registry', ca_file: '/nonexistent/ca.pem', rules }] } }),
    /cannot read ca_file \/nonexistent\/ca\.pem/,
    'a missing ca_file fails the start',
  );
});
