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
import { tokenOf, tryPush } from './auth-helpers.js';
import { claimsOf, OIDC_NOT_CONFIGURED, requireOidc, tamperedSignature, unsigned } from './oidc-helpers.js';
import { oidcBasicToken, oidcStart, oidcTokenExchange } from './oidc-requests.js';

const area = 'oidc' as const;
const SPEC_EXCHANGE = 'Docker token spec (Basic credentials on the realm); OpenID Connect Core 1.0 §3.1.3.7 (ID token validation)';
const SPEC_RFC8693 = 'RFC 8693 OAuth 2.0 Token Exchange §2.1, §2.2.1';

const needsOidc = (c: { oidc?: unknown }) => (c.oidc ? undefined : OIDC_NOT_CONFIGURED);

/** Claims of the registry JWT, when it is one (registries may issue opaque tokens: then undefined). */
const jwtClaims = (token: string | undefined) => (token && token.split('.').length === 3 ? claimsOf(token) : undefined);

export const oidcChecks: CheckDef[] = [
  {
    id: 'oidc/basic/exchange',
    area,
    enabled: needsOidc,
    title: 'GET on the realm with Basic <oidc user>:<OIDC token> returns a registry token that can push to a repository the rules grant.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const s = await oidcStart(ctx);
      const res = await oidcBasicToken(ctx, s, s.cfg.repository, 'pull,push', s.token);
      status(t, res, 200, 'GET token with the OIDC token as Basic password');
      const registryToken = tokenOf(res);
      t.ok(registryToken, 'response has token or access_token');
      const push = await tryPush(ctx.http, s.cfg.repository, `Bearer ${registryToken}`);
      status(t, push, 202, `push to ${s.cfg.repository} with the registry token opens an upload`);
    },
  },
  {
    id: 'oidc/grant/bounded',
    area,
    enabled: needsOidc,
    title: 'The registry token never grants more than the rules: asking for push on a repository they do not grant yields a token that cannot push there.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const denied = requireOidc(ctx).deniedRepository;
      if (!denied) return ctx.skip('no oidc.denied_repository configured (a repository the token\'s rules do not grant push on)');
      const s = await oidcStart(ctx);
      const res = await oidcBasicToken(ctx, s, denied, 'pull,push', s.token);
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
    enabled: needsOidc,
    title: 'The registry token expires no later than the OIDC token it was made from.',
    spec: SPEC_EXCHANGE,
    level: 'SHOULD',
    async run(t, ctx) {
      const s = await oidcStart(ctx);
      const oidcExp = claimsOf(s.token).exp;
      if (typeof oidcExp !== 'number') return ctx.skip('the OIDC token has no numeric exp claim');
      const asked = Date.now();
      const res = await oidcBasicToken(ctx, s, s.cfg.repository, 'pull', s.token);
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
    enabled: needsOidc,
    title: 'An OIDC token with a broken signature, or its claims re-sent unsigned (alg none), is refused with 401 and no token.',
    spec: SPEC_EXCHANGE,
    level: 'MUST',
    async run(t, ctx) {
      const s = await oidcStart(ctx);
      for (const [what, forged] of [['flipped signature', tamperedSignature(s.token)], ['alg none', unsigned(s.token)], ['not a JWT', 'not-a-token']] as const) {
        const res = await oidcBasicToken(ctx, s, s.cfg.repository, 'pull,push', forged);
        t.ok([401, 403].includes(res.status), `${what}: refused (401)`, { got: res.status });
        t.notOk(res.status === 200 && tokenOf(res), `${what}: no token issued`);
      }
    },
  },
  {
    id: 'oidc/token-exchange',
    area,
    enabled: needsOidc,
    title: 'POST grant_type=urn:ietf:params:oauth:grant-type:token-exchange with the OIDC token as subject_token returns a usable access token.',
    spec: SPEC_RFC8693,
    level: 'MAY',
    async run(t, ctx) {
      const s = await oidcStart(ctx);
      const res = await oidcTokenExchange(ctx, s, s.token);
      status(t, res, 200, 'token exchange');
      const j = res.json<{ access_token?: string; token_type?: string; issued_token_type?: string }>() ?? {};
      t.ok(j.access_token, 'response has access_token');
      t.match(j.token_type ?? '', /^bearer$/i, 'token_type is Bearer');
      t.ok(j.issued_token_type, 'issued_token_type is present (RFC 8693 §2.2.1)', { got: j.issued_token_type });
      const push = await tryPush(ctx.http, s.cfg.repository, `Bearer ${j.access_token}`);
      status(t, push, 202, 'push with the exchanged token opens an upload');
      const forged = await oidcTokenExchange(ctx, s, tamperedSignature(s.token));
      t.ok([400, 401, 403].includes(forged.status), 'a forged subject_token is refused', { got: forged.status });
    },
  },
];
