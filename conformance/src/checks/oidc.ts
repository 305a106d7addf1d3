// Optional area: keyless CI. A registry that trusts an OIDC issuer (e.g. GitHub Actions' id-token) exchanges
// the issuer's token for a registry token — as the Basic password of a fixed user name (so `docker login`
// works) and, optionally, through RFC 8693 token exchange — granting no more than its rules allow, expiring
// with the OIDC token at the latest, and refusing forged or unsigned tokens.
//
// Runs only when the config gives a token source (oidc.token_command / oidc.token_file) and a repository the
// token's rules grant pull,push on; skipped with that reason otherwise. There is no standard for this exchange
// between registries: the levels say what a registry that offers it must do for clients to rely on it.
import type { CheckDef } from '../harness/types.js';
import { status } from './assert.js';
import { bearerChallenge, getToken, postForm, realmUrl, repoScope, tokenOf, tryPush } from './auth-helpers.js';
import { claimsOf, OIDC_NOT_CONFIGURED, oidcToken, requireOidc, tamperedSignature, unsigned } from './oidc-helpers.js';

const area = 'oidc' as const;
const SPEC_EXCHANGE = 'Docker token spec (Basic credentials on the realm); OpenID Connect Core 1.0 §3.1.3.7 (ID token validation)';
const SPEC_RFC8693 = 'RFC 8693 OAuth 2.0 Token Exchange §2.1, §2.2.1';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Claims of the registry JWT, when it is one (registries may issue opaque tokens: then undefined). */
const jwtClaims = (token: string | undefined) => (token && token.split('.').length === 3 ? claimsOf(token) : undefined);

export const oidcChecks: CheckDef[] = [
  {
    id: 'oidc/basic/exchange',
    area,
    enabled: (config) => (config.oidc ? undefined : OIDC_NOT_CONFIGURED),
    title: 'GET on the realm with Basic <oidc user>:<OIDC token> returns a registry token that can push to a repository the rules grant.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const cfg = requireOidc(ctx);
      const ch = bearerChallenge(ctx);
      const token = await oidcToken(cfg, ctx.signal);
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(cfg.repository, 'pull,push')]), { username: cfg.username, password: token });
      status(t, res, 200, 'GET token with the OIDC token as Basic password');
      const registryToken = tokenOf(res);
      t.ok(registryToken, 'response has token or access_token');
      const push = await tryPush(ctx.http, cfg.repository, `Bearer ${registryToken}`);
      status(t, push, 202, `push to ${cfg.repository} with the registry token opens an upload`);
    },
  },
  {
    id: 'oidc/grant/bounded',
    area,
    enabled: (config) => (config.oidc ? undefined : OIDC_NOT_CONFIGURED),
    title: 'The registry token never grants more than the rules: asking for push on a repository they do not grant yields a token that cannot push there.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const cfg = requireOidc(ctx);
      const denied = cfg.deniedRepository;
      if (!denied) return ctx.skip('no oidc.denied_repository configured (a repository the token\'s rules do not grant push on)');
      const ch = bearerChallenge(ctx);
      const token = await oidcToken(cfg, ctx.signal);
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(denied, 'pull,push')]), { username: cfg.username, password: token });
      // Asking for too much is not an error (the token spec grants the intersection); a refusal is fine too.
      t.ok([200, 401, 403].includes(res.status), 'token request answers 200 (smaller grant) or a refusal', { got: res.status });
      if (res.status !== 200) return;
      const push = await tryPush(ctx.http, denied, `Bearer ${tokenOf(res)}`);
      t.ok([401, 403].includes(push.status), `push to ${denied} is refused (401/403)`, { got: push.status });
    },
  },
  {
    id: 'oidc/token/expiry',
    area,
    enabled: (config) => (config.oidc ? undefined : OIDC_NOT_CONFIGURED),
    title: 'The registry token expires no later than the OIDC token it was made from.',
    spec: SPEC_EXCHANGE,
    level: 'SHOULD',
    async run(t, ctx) {
      const cfg = requireOidc(ctx);
      const ch = bearerChallenge(ctx);
      const token = await oidcToken(cfg, ctx.signal);
      const oidcExp = claimsOf(token).exp;
      if (typeof oidcExp !== 'number') return ctx.skip('the OIDC token has no numeric exp claim');
      const asked = Date.now();
      const res = await getToken(ctx.http, realmUrl(ctx, ch, [repoScope(cfg.repository, 'pull')]), { username: cfg.username, password: token });
      status(t, res, 200, 'GET token');
      const body = res.json<{ expires_in?: number }>() ?? {};
      const exp = jwtClaims(tokenOf(res))?.exp;
      if (typeof exp === 'number') t.ok(exp <= oidcExp, 'registry token exp ≤ OIDC token exp', { got: exp, wanted: `≤ ${oidcExp}` });
      if (typeof body.expires_in === 'number') {
        // expires_in counts from when the registry answered: allow the request's own duration and a second of rounding.
        const latest = oidcExp - Math.floor(asked / 1000) + 1;
        t.ok(body.expires_in <= latest, 'expires_in does not outlast the OIDC token', { got: body.expires_in, wanted: `≤ ${latest}` });
      }
      if (typeof exp !== 'number' && typeof body.expires_in !== 'number') ctx.skip('the registry token states no lifetime (no expires_in, not a JWT)');
    },
  },
  {
    id: 'oidc/refused/forged',
    area,
    enabled: (config) => (config.oidc ? undefined : OIDC_NOT_CONFIGURED),
    title: 'An OIDC token with a broken signature, or its claims re-sent unsigned (alg none), is refused with 401 and no token.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const cfg = requireOidc(ctx);
      const ch = bearerChallenge(ctx);
      const token = await oidcToken(cfg, ctx.signal);
      const url = realmUrl(ctx, ch, [repoScope(cfg.repository, 'pull,push')]);
      for (const [what, forged] of [['flipped signature', tamperedSignature(token)], ['alg none', unsigned(token)], ['not a JWT', 'not-a-token']] as const) {
        const res = await getToken(ctx.http, url, { username: cfg.username, password: forged });
        t.ok([401, 403].includes(res.status), `${what}: refused (401)`, { got: res.status });
        t.notOk(res.status === 200 && tokenOf(res), `${what}: no token issued`);
      }
    },
  },
  {
    id: 'oidc/token-exchange',
    area,
    enabled: (config) => (config.oidc ? undefined : OIDC_NOT_CONFIGURED),
    title: 'POST grant_type=urn:ietf:params:oauth:grant-type:token-exchange with the OIDC token as subject_token returns a usable access token.',
    spec: SPEC_RFC8693,
    level: 'MAY',
    async run(t, ctx) {
      const cfg = requireOidc(ctx);
      const ch = bearerChallenge(ctx);
      const token = await oidcToken(cfg, ctx.signal);
      const res = await postForm(ctx.http, new URL(ch.realm, ctx.config.url), {
        grant_type: TOKEN_EXCHANGE,
        subject_token: token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        service: ch.service ?? '',
        scope: repoScope(cfg.repository, 'pull,push'),
      });
      status(t, res, 200, 'token exchange');
      const j = res.json<{ access_token?: string; token_type?: string; issued_token_type?: string }>() ?? {};
      t.ok(j.access_token, 'response has access_token');
      t.match(j.token_type ?? '', /^bearer$/i, 'token_type is Bearer');
      t.ok(j.issued_token_type, 'issued_token_type is present (RFC 8693 §2.2.1)', { got: j.issued_token_type });
      const push = await tryPush(ctx.http, cfg.repository, `Bearer ${j.access_token}`);
      status(t, push, 202, 'push with the exchanged token opens an upload');
      const forged = await postForm(ctx.http, new URL(ch.realm, ctx.config.url), {
        grant_type: TOKEN_EXCHANGE,
        subject_token: tamperedSignature(token),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        service: ch.service ?? '',
        scope: repoScope(cfg.repository, 'pull,push'),
      });
      t.ok([400, 401, 403].includes(forged.status), 'a forged subject_token is refused', { got: forged.status });
    },
  },
];
