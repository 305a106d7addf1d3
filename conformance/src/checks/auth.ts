// Area 6: the Docker token flow as clients use it — challenges, token GET/POST, OAuth2 password and refresh,
// anonymous access, bad credentials, and tokens that must not grant more than they say.
import type { CheckDef } from '../harness/types.js';
import { basicHeader } from '../http/auth.js';
import { pushImage } from '../oci/push.js';
import { ociError, status } from './assert.js';
import { bearerChallenge, getToken, postForm, realmUrl, repoScope, requireCreds, tokenOf, tryPush } from './auth-helpers.js';
import { need, ruleTarget } from './rules-helpers.js';
import { SPEC } from './spec.js';

const area = 'auth' as const;

export const authChecks: CheckDef[] = [
  {
    id: 'auth/challenge/base',
    area,
    title: 'An anonymous GET /v2/ answers 401 with a WWW-Authenticate Bearer challenge naming realm and service.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      bearerChallenge(ctx);
      const res = await ctx.http.request('GET', '/v2/', { auth: 'none' });
      status(t, res, 401, 'anonymous GET /v2/');
      const h = res.headers.get('www-authenticate') ?? '';
      t.match(h, /^Bearer /i, 'challenge scheme is Bearer', { got: h });
      t.match(h, /realm="[^"]+"/, 'challenge has a quoted realm', { got: h });
      t.match(h, /service="[^"]+"/, 'challenge has a quoted service', { got: h });
    },
  },
  {
    id: 'auth/challenge/scope',
    area,
    title: 'An anonymous push attempt answers 401 UNAUTHORIZED with a challenge carrying scope="repository:<name>:pull,push".',
    spec: `${SPEC.dockerTokenSpec}; ${SPEC.errors}`,
    level: 'SHOULD',
    async run(t, ctx) {
      bearerChallenge(ctx);
      const repo = ctx.repo('');
      const res = await tryPush(ctx.http, repo, undefined);
      ociError(t, res, 401, 'UNAUTHORIZED', 'anonymous POST upload');
      const h = res.headers.get('www-authenticate') ?? '';
      t.match(h, new RegExp(`scope="repository:${repo.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:(pull,push|push,pull)"`), 'challenge names the scope needed', { got: h });
    },
  },
  {
    id: 'auth/token/get',
    area,
    title: 'GET on the realm with Basic credentials returns a token (token/access_token, expires_in, issued_at) that can push.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    feature: 'tokenGet',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const repo = ctx.repo('');
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(repo, 'pull,push')]), creds);
      status(t, res, 200, 'GET token');
      const j = res.json<{ token?: string; access_token?: string; expires_in?: number; issued_at?: string }>();
      t.ok(j?.token ?? j?.access_token, 'response has token or access_token');
      if (j?.expires_in !== undefined) t.ok(j.expires_in >= 60, 'expires_in is at least 60 s', { got: j.expires_in });
      if (j?.issued_at !== undefined) t.ok(!Number.isNaN(Date.parse(j.issued_at)), 'issued_at is an RFC 3339 time', { got: j.issued_at });
      const push = await tryPush(ctx.http, repo, `Bearer ${tokenOf(res)}`);
      status(t, push, 202, 'push with the issued token opens an upload');
    },
  },
  {
    id: 'auth/token/post-basic',
    area,
    title: 'POST on the realm with Basic credentials and a service/scope form returns a usable token.',
    spec: SPEC.dockerTokenSpec,
    level: 'MAY',
    feature: 'tokenPostBasic',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const repo = ctx.repo('');
      const res = await postForm(ctx.http, new URL(ch.realm, ctx.config.url), { service: ch.service ?? '', scope: repoScope(repo, 'pull,push') }, { authorization: basicHeader(creds) });
      status(t, res, 200, 'POST token with Basic');
      const token = tokenOf(res);
      t.ok(token, 'response has a token');
      status(t, await tryPush(ctx.http, repo, `Bearer ${token}`), 202, 'the token can push');
    },
  },
  {
    id: 'auth/oauth2/password',
    area,
    title: 'POST grant_type=password returns an access_token, and a refresh_token when access_type=offline.',
    spec: SPEC.oauth2,
    level: 'MAY',
    feature: 'oauth2Password',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const repo = ctx.repo('');
      const res = await postForm(ctx.http, new URL(ch.realm, ctx.config.url), {
        grant_type: 'password',
        service: ch.service ?? '',
        scope: repoScope(repo, 'pull,push'),
        client_id: 'nitro-conformance',
        access_type: 'offline',
        username: creds.username,
        password: creds.password,
      });
      status(t, res, 200, 'POST grant_type=password');
      const j = res.json<{ access_token?: string; refresh_token?: string }>();
      t.ok(j?.access_token, 'response has access_token');
      t.ok(j?.refresh_token, 'response has refresh_token (access_type=offline)');
      status(t, await tryPush(ctx.http, repo, `Bearer ${j?.access_token}`), 202, 'the access token can push');
    },
  },
  {
    id: 'auth/oauth2/refresh',
    area,
    title: 'POST grant_type=refresh_token exchanges a refresh token for a new working access token.',
    spec: SPEC.oauth2,
    level: 'MAY',
    feature: 'refreshToken',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const repo = ctx.repo('');
      const realm = new URL(ch.realm, ctx.config.url);
      const first = await postForm(ctx.http, realm, {
        grant_type: 'password', service: ch.service ?? '', scope: repoScope(repo, 'pull,push'),
        client_id: 'nitro-conformance', access_type: 'offline', username: creds.username, password: creds.password,
      });
      const refresh = first.json<{ refresh_token?: string }>()?.refresh_token;
      if (!refresh) return ctx.unsupported('no refresh_token issued for access_type=offline');
      const res = await postForm(ctx.http, realm, {
        grant_type: 'refresh_token', service: ch.service ?? '', scope: repoScope(repo, 'pull,push'),
        client_id: 'nitro-conformance', refresh_token: refresh,
      });
      status(t, res, 200, 'POST grant_type=refresh_token');
      const token = res.json<{ access_token?: string }>()?.access_token;
      t.ok(token, 'response has access_token');
      status(t, await tryPush(ctx.http, repo, `Bearer ${token}`), 202, 'the refreshed token can push');
      const bogus = await postForm(ctx.http, realm, { grant_type: 'refresh_token', service: ch.service ?? '', client_id: 'nitro-conformance', refresh_token: 'not-a-refresh-token' });
      status(t, bogus, [400, 401], 'a made-up refresh token is refused');
    },
  },
  {
    id: 'auth/token/bad-credentials',
    area,
    title: 'The realm answers 401 to a wrong password, on GET and on OAuth2 POST.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const wrong = { username: creds.username, password: creds.password + '-wrong' };
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(ctx.repo(''), 'pull')]), wrong);
      status(t, res, 401, 'GET token with wrong password');
      if (ctx.features.get('oauth2Password')?.supported === false) return ctx.note('OAuth2 password grant not offered: only GET checked');
      const post = await postForm(ctx.http, new URL(ch.realm, ctx.config.url), {
        grant_type: 'password', service: ch.service ?? '', client_id: 'nitro-conformance', username: wrong.username, password: wrong.password,
      });
      status(t, post, [400, 401], 'OAuth2 password grant with wrong password');
    },
  },
  {
    id: 'auth/anonymous/cannot-push',
    area,
    title: 'An anonymous token (if the realm issues one) cannot push.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const repo = ctx.repo('');
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(repo, 'pull,push')]));
      status(t, res, [200, 401], 'anonymous token request');
      if (res.status === 401) return;
      const push = await tryPush(ctx.http, repo, `Bearer ${tokenOf(res)}`);
      status(t, push, [401, 403], 'push with an anonymous token');
    },
  },
  {
    id: 'auth/token/pull-only-cannot-push',
    area,
    title: 'A token issued for repository:<name>:pull cannot open an upload in <name>.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'v1');
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(repo, 'pull')]), creds);
      status(t, res, 200, 'GET pull-only token');
      const token = tokenOf(res);
      const pull = await ctx.http.request('GET', `/v2/${repo}/tags/list`, { auth: 'none', authorization: `Bearer ${token}` });
      status(t, pull, 200, 'the pull-only token can pull');
      const push = await tryPush(ctx.http, repo, `Bearer ${token}`);
      status(t, push, [401, 403], 'the pull-only token cannot push');
    },
  },
  {
    id: 'auth/token/repository-bound',
    area,
    title: 'A token for repository A (pull,push) is refused on repository B.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const creds = requireCreds(ctx);
      const a = ctx.repo('a');
      const b = ctx.repo('b');
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(a, 'pull,push')]), creds);
      const token = tokenOf(res);
      status(t, await tryPush(ctx.http, a, `Bearer ${token}`), 202, 'token works on A');
      status(t, await tryPush(ctx.http, b, `Bearer ${token}`), [401, 403], 'token is refused on B');
    },
  },
  {
    id: 'auth/token/garbage-refused',
    area,
    title: 'A malformed or forged bearer token is refused with 401.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      bearerChallenge(ctx);
      const repo = ctx.repo('');
      status(t, await tryPush(ctx.http, repo, 'Bearer not-a-token'), 401, 'garbage token');
      const forged = ['{"alg":"none","typ":"JWT"}', JSON.stringify({ sub: 'admin', access: [{ type: 'repository', name: repo, actions: ['pull', 'push'] }], exp: 4102444800 })]
        .map((s) => Buffer.from(s).toString('base64url'))
        .join('.') + '.';
      status(t, await tryPush(ctx.http, repo, `Bearer ${forged}`), 401, 'unsigned (alg none) token');
    },
  },
  {
    id: 'auth/token/scope-downgrade',
    area,
    title: 'A read-only member asking for pull,push gets a token that pulls but cannot push.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const createUser = need(ctx, 'createUser');
      const setMember = need(ctx, 'setMember');
      // Members-only repository, so a read member really lacks push whatever the registry's default policy.
      const target = await ruleTarget(ctx, 'projectMember', { must_be_project_member: true });
      const repo = target.image;
      await pushImage(ctx.http, repo, 'v1');
      const user = await createUser(`nc${ctx.runId}reader`, `Reader-${ctx.runId}-pw`);
      await setMember(target.repository, user.username, 'read');
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(repo, 'pull,push')]), user);
      status(t, res, 200, 'token request for more than granted still succeeds');
      const token = tokenOf(res);
      status(t, await ctx.http.request('GET', `/v2/${repo}/tags/list`, { auth: 'none', authorization: `Bearer ${token}` }), 200, 'downgraded token pulls');
      status(t, await tryPush(ctx.http, repo, `Bearer ${token}`), [401, 403], 'downgraded token cannot push');
    },
  },
  {
    id: 'auth/token/expired',
    area,
    title: 'An access token past its expiry is refused.',
    spec: SPEC.dockerTokenSpec,
    level: 'MUST',
    timeoutMs: 20_000,
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const createUser = need(ctx, 'createUser');
      const createToken = need(ctx, 'createToken');
      const user = await createUser(`nc${ctx.runId}expiry`, `Expiry-${ctx.runId}-pw`);
      // Asked short (1 s) rather than waited for: the check then waits just past it.
      const pat = await createToken(user.username, 'short-lived', { expiresIn: 1 });
      const issued = Date.now();
      const url = realmUrl(ctx, ch, []);
      // Prove the token works while fresh, so the later 401 is about expiry and nothing else.
      status(t, await getToken(ctx.http, url, { username: user.username, password: pat }), 200, 'fresh access token is accepted');
      await new Promise((r) => setTimeout(r, Math.max(0, issued + 1_300 - Date.now())));
      status(t, await getToken(ctx.http, url, { username: user.username, password: pat }), 401, 'the same access token is refused after expiry');
    },
  },
  {
    id: 'auth/password/colon',
    area,
    title: 'A password containing ":" authenticates (Basic splits user and password at the first colon).',
    spec: SPEC.basicAuth,
    level: 'MUST',
    async run(t, ctx) {
      const ch = bearerChallenge(ctx);
      const user = await need(ctx, 'createUser')(`nc${ctx.runId}colon`, `pa:ss:${ctx.runId}:word`);
      const res = await getToken(ctx.http, realmUrl(ctx, ch, []), user);
      status(t, res, 200, 'token for a user whose password contains ":"');
      t.ok(tokenOf(res), 'a token is issued');
    },
  },
];
