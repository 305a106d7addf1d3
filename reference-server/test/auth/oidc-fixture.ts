/**
 * The OIDC tests' fixture: a test issuer on loopback (helpers/oidc-issuer.ts) and the real server trusting
 * it, with GitHub-shaped rules:
 *
 *   acme/app on refs/heads/main        → acme/app: pull, push
 *   acme/* on a tag refs/tags/v*       → acme/releases/**: pull, push, delete
 *
 * Helpers exchange a token the three ways clients do (GET Basic, POST Basic, POST token exchange).
 */
import { startOidcIssuer, type TestOidcIssuer } from '../helpers/oidc-issuer.js';
import { authFixture, basic, type AuthFixture, type TeardownHost } from './harness.js';

export const AUDIENCE = 'nitro-registry';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export const RULES = [
  { match: { repository: 'acme/app', ref: 'refs/heads/main' }, grant: [{ name: 'acme/app', actions: ['pull', 'push'] }] },
  { match: { repository: 'acme/*', ref: 'refs/tags/v*' }, grant: [{ name: 'acme/releases/**', actions: ['pull', 'push', 'delete'] }] },
];

export interface OidcFixture {
  readonly fx: AuthFixture;
  readonly issuer: TestOidcIssuer;
}

export async function oidcFixture(
  t: TeardownHost,
  o: { auth?: Record<string, unknown>; issuerSettings?: Record<string, unknown>; repositories?: unknown[] } = {},
): Promise<OidcFixture> {
  const issuer = await startOidcIssuer();
  t.teardown(() => issuer.close());
  const fx = await authFixture(t, {
    auth: {
      oidc: [{ issuer: issuer.issuer, audience: AUDIENCE, allow_insecure_loopback: true, jwks_cooldown_seconds: 0, rules: RULES, ...o.issuerSettings }],
      ...o.auth,
    },
    ...(o.repositories ? { repositories: o.repositories } : {}),
  });
  return { fx, issuer };
}

/** docker login's request: GET with Basic oidc:<token>, account and service, and the scopes. */
export const getWithBasic = (fx: AuthFixture, oidcToken: string, scopes: string[]) =>
  fx.request
    .get(`/api/auth/token?account=oidc&service=nitro-repo${scopes.map((s) => `&scope=${encodeURIComponent(s)}`).join('')}`)
    .set('Authorization', basic('oidc', oidcToken));

/** RFC 8693 token exchange. */
export const exchange = (fx: AuthFixture, oidcToken: string, scope: string, extra: Record<string, string> = {}) =>
  fx.request
    .post('/api/auth/token')
    .type('form')
    .send({ grant_type: TOKEN_EXCHANGE, subject_token: oidcToken, subject_token_type: JWT_TOKEN_TYPE, service: 'nitro-repo', scope, ...extra });
