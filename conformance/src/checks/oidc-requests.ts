// The oidc area's two request shapes, so that each check says only what it asks for and what it expects:
// the Docker token GET with the OIDC token as the Basic password of the configured user (what `docker login`
// sends), and the RFC 8693 token-exchange POST with the OIDC token as subject_token. `oidcStart` is the
// preamble every check shares: the config (or a skip), the registry's bearer challenge (or a skip), and a
// fresh OIDC token — in that order, so the skip reasons stay the same.
import type { OidcConfig } from '../config.js';
import type { Challenge } from '../http/auth.js';
import type { Res } from '../http/client.js';
import type { CheckContext } from '../harness/types.js';
import { bearerChallenge, getToken, postForm, realmUrl, repoScope } from './auth-helpers.js';
import { oidcToken, requireOidc } from './oidc-helpers.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface OidcStart {
  cfg: OidcConfig;
  ch: Challenge & { realm: string };
  token: string;
}

export async function oidcStart(ctx: CheckContext): Promise<OidcStart> {
  const cfg = requireOidc(ctx);
  const ch = bearerChallenge(ctx);
  const token = await oidcToken(cfg, ctx.signal);
  return { cfg, ch, token };
}

/** GET on the realm for `actions` on `repository`, Basic <oidc user>:<password> (the OIDC token or a forgery of it). */
export function oidcBasicToken(ctx: CheckContext, s: OidcStart, repository: string, actions: string, password: string): Promise<Res> {
  return getToken(ctx.http, realmUrl(ctx, s.ch, [repoScope(repository, actions)]), { username: s.cfg.username, password });
}

/** RFC 8693 exchange POST on the realm: `subjectToken` (the OIDC token or a forgery of it) for pull,push on the configured repository. */
export function oidcTokenExchange(ctx: CheckContext, s: OidcStart, subjectToken: string): Promise<Res> {
  return postForm(ctx.http, new URL(s.ch.realm, ctx.config.url), {
    grant_type: TOKEN_EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: JWT_TOKEN_TYPE,
    service: s.ch.service ?? '',
    scope: repoScope(s.cfg.repository, 'pull,push'),
  });
}
