/**
 * The token endpoint (Docker token spec + OAuth2), at /api/auth/token and its aliases /v2/token and
 * /api/docker/token, and the JWKS at /api/auth/jwks and /.well-known/jwks.json.
 *
 *   GET  ?service=&scope=…&scope=…&account=&offline_token=true   Basic or anonymous
 *   POST grant_type=password&username=&password=&service=&scope=&client_id=&access_type=offline
 *   POST grant_type=refresh_token&refresh_token=&service=&scope=&client_id=
 *   POST (Basic) service=&scope=   — exactly what the quick reference's curl sends
 *   POST grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=<OIDC token>
 *        &subject_token_type=urn:ietf:params:oauth:token-type:jwt (or :id_token)&scope=   (RFC 8693)
 *
 * An OIDC token of a trusted issuer (auth.oidc) is accepted by the token exchange grant and as the Basic
 * password of the reserved user name `oidc` (so `docker login -u oidc` works); the registry token then
 * grants requested ∩ the matched rules' grants and expires with the OIDC token at the latest.
 *
 * A token grants what was asked ∩ what the account may do now; asking for too much is never an error.
 */
import type { IncomingMessage } from 'node:http';
import type { Route, RequestContext } from '../http/route.js';
import { readBody, sendJson } from '../http/respond.js';
import { RegistryError } from '../oci/errors.js';
import { ACCESS_TOKEN_PREFIX, type Accounts } from './accounts.js';
import type { Authenticator, Identity } from './authenticate.js';
import { ANONYMOUS, parseAuthorization } from './authenticate.js';
import type { Policy } from './policy.js';
import type { AuthConfig } from './config.js';
import type { KeyRing } from './keys.js';
import { issueToken, type TokenSettings } from './tokens.js';
import { requestedScopes, type AccessClaim, type Scope } from './scopes.js';
import { workloadFields, type Audit } from './audit.js';
import { clientAddress } from './realm.js';
import { challengeFor } from './authorizer.js';

const TOKEN_PATHS = [/^\/api\/auth\/token\/?$/, /^\/v2\/token\/?$/, /^\/api\/docker\/token\/?$/];
const JWKS_PATHS = [/^\/api\/auth\/jwks\/?$/, /^\/\.well-known\/jwks\.json$/];
const MAX_FORM_BYTES = 64 * 1024;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const SUBJECT_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'];

export interface TokenRouteDeps {
  readonly config: AuthConfig;
  readonly accounts: Accounts;
  readonly authenticator: Authenticator;
  readonly policy: Policy;
  readonly keys: KeyRing;
  readonly tokenSettings: TokenSettings;
  readonly audit: Audit;
}

/** OAuth2-style error that also carries the registry error body, so both kinds of client understand it. */
function badRequest(ctx: RequestContext, error: string, description: string): void {
  sendJson(ctx.res, 400, { error, error_description: description, errors: [{ code: 'UNSUPPORTED', message: description }] }, { 'Cache-Control': 'no-store' });
}

export function tokenRoutes(d: TokenRouteDeps): Route[] {
  const grant = (identity: Identity, scopes: Scope[]): AccessClaim[] => {
    const out: AccessClaim[] = [];
    for (const s of scopes) {
      if (s.type === 'registry') {
        if (!identity.user || out.some((c) => c.type === 'registry' && c.name === s.name)) continue;
        // The management scope carries the account's own rights to /api/, so only a credential that has
        // them may ask for it: a password or an unscoped access token (never a scoped one).
        if (s.name === 'api' && identity.token !== null && identity.token.scopes !== null) continue;
        out.push({ type: 'registry', name: s.name, actions: ['*'] });
        continue;
      }
      const actions = s.actions.filter((a) => d.policy.can(identity, s.name, a));
      if (actions.length === 0) continue;
      const existing = out.find((c) => c.type === 'repository' && c.name === s.name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else out.push({ type: 'repository', name: s.name, actions });
    }
    return out;
  };

  const respond = async (ctx: RequestContext, identity: Identity, scopes: Scope[], offline: boolean, extra: Record<string, string> = {}): Promise<void> => {
    const access = grant(identity, scopes);
    const workload = identity.workload ?? null;
    const issued = await issueToken(
      d.keys.signingKey(),
      d.tokenSettings,
      {
        sub: identity.user?.username ?? '',
        auth_method: identity.method,
        ...(identity.token ? { tid: identity.token.id } : {}),
        ...(workload ? { workload: workload.identity } : {}),
        access,
      },
      Date.now(),
      workload?.expiresAt,
    );
    let refresh: string | undefined;
    if (offline && identity.user) {
      refresh = await d.accounts.createRefreshToken({
        username: identity.user.username,
        method: identity.method === 'access-token' ? 'access-token' : 'password',
        tokenId: identity.token?.id ?? null,
        expiresAt: Date.now() + d.config.refreshTokenTtlSeconds * 1000,
      });
    }
    d.audit.event('token_issued', {
      user: identity.user?.username ?? null,
      method: identity.method,
      ip: ctx.req.socket.remoteAddress,
      access: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`),
      refresh: refresh !== undefined,
      expires_in: issued.expiresIn,
      ...workloadFields(workload?.identity),
    });
    ctx.log.user = identity.user?.username ?? null;
    sendJson(
      ctx.res,
      200,
      {
        token: issued.token,
        access_token: issued.token,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
        ...(refresh ? { refresh_token: refresh } : {}),
        ...extra,
      },
      { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
    );
  };

  const ip = (req: IncomingMessage) => clientAddress(req, d.config);
  const challenge = (req: IncomingMessage) => challengeFor(req, d.config);

  /** Identity from an Authorization header on the token endpoint: Basic or nothing. */
  const fromHeader = async (req: IncomingMessage): Promise<Identity> => {
    const cred = parseAuthorization(req.headers.authorization);
    if (cred.kind === 'none') return ANONYMOUS;
    if (cred.kind === 'basic') {
      const identity = await d.authenticator.login(cred.username, cred.password, ip(req), () => challenge(req));
      d.audit.event('login', { user: cred.username, method: identity.method, ip: ip(req) });
      return identity;
    }
    // A raw access token may be presented as a Bearer; a registry JWT may not (it would let a token
    // renew itself forever without the account's secret).
    if (cred.kind === 'bearer' && cred.token.startsWith(ACCESS_TOKEN_PREFIX)) return d.authenticator.bearer(cred.token, () => challenge(req));
    throw new RegistryError('UNAUTHORIZED', 'malformed Authorization header', undefined, challenge(req));
  };

  const serviceOk = (ctx: RequestContext, service: string | null): boolean => {
    if (service === null || service === '' || service === d.config.service) return true;
    badRequest(ctx, 'invalid_request', `unknown service "${service.slice(0, 100)}"; this registry's service is "${d.config.service}"`);
    return false;
  };

  const getToken = async (ctx: RequestContext): Promise<void> => {
    const q = ctx.url.searchParams;
    if (!serviceOk(ctx, q.get('service'))) return;
    const identity = await fromHeader(ctx.req);
    const account = q.get('account');
    if (account && identity.user && account !== identity.user.username) {
      return badRequest(ctx, 'invalid_request', 'account does not match the authenticated user');
    }
    await respond(ctx, identity, requestedScopes(q.getAll('scope')), q.get('offline_token') === 'true');
  };

  const postToken = async (ctx: RequestContext): Promise<void> => {
    const body = await readBody(ctx.req, MAX_FORM_BYTES, () => new RegistryError('SIZE_INVALID', 'token request body too large'));
    const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== '' && type !== 'application/x-www-form-urlencoded') {
      return badRequest(ctx, 'invalid_request', 'the token endpoint takes application/x-www-form-urlencoded forms');
    }
    const form = new URLSearchParams(body.toString('utf8'));
    if (!serviceOk(ctx, form.get('service'))) return;
    const scopes = requestedScopes(form.getAll('scope'));
    const offline = form.get('access_type') === 'offline';
    const grantType = form.get('grant_type');

    if (grantType === null) {
      // The quick reference's form: Basic credentials plus service and scope.
      return respond(ctx, await fromHeader(ctx.req), scopes, offline);
    }
    if (grantType === 'password') {
      const username = form.get('username');
      const password = form.get('password');
      if (!username || password === null) {
        const fromBasic = parseAuthorization(ctx.req.headers.authorization);
        if (fromBasic.kind !== 'basic') return badRequest(ctx, 'invalid_request', 'grant_type=password needs username and password');
        return respond(ctx, await fromHeader(ctx.req), scopes, offline);
      }
      const identity = await d.authenticator.login(username, password, ip(ctx.req), () => challenge(ctx.req));
      d.audit.event('login', { user: username, method: identity.method, ip: ip(ctx.req) });
      return respond(ctx, identity, scopes, offline);
    }
    if (grantType === 'refresh_token') {
      const secret = form.get('refresh_token') ?? '';
      const rec = await d.accounts.checkRefreshToken(secret);
      const user = rec ? await d.accounts.getUser(rec.username) : null;
      const token = rec?.tokenId != null ? await d.accounts.liveToken(rec.tokenId) : null;
      if (!rec || !user || (rec.tokenId !== null && !token)) {
        d.audit.event('login_failed', { method: 'refresh_token', ip: ip(ctx.req) });
        throw new RegistryError('UNAUTHORIZED', 'invalid or expired refresh token', undefined, challenge(ctx.req));
      }
      return respond(ctx, await d.authenticator.withRoles({ user, token, method: rec.method, jwt: null }), scopes, false);
    }
    if (grantType === TOKEN_EXCHANGE) {
      if (!d.authenticator.oidcEnabled) return badRequest(ctx, 'unsupported_grant_type', 'token exchange needs a trusted OIDC issuer (auth.oidc); none is configured');
      const subjectType = form.get('subject_token_type');
      if (subjectType === null || !SUBJECT_TOKEN_TYPES.includes(subjectType)) {
        return badRequest(ctx, 'invalid_request', `subject_token_type must be ${SUBJECT_TOKEN_TYPES.join(' or ')}`);
      }
      const audience = form.get('audience');
      if (audience !== null && audience !== d.config.service) return badRequest(ctx, 'invalid_target', `audience must be this registry's service "${d.config.service}"`);
      const identity = await d.authenticator.oidcLogin(form.get('subject_token') ?? '', ip(ctx.req), () => challenge(ctx.req));
      // RFC 8693 §2.2.1: say what was issued; no refresh token (the workload asks again with a fresh OIDC token).
      return respond(ctx, identity, scopes, false, { issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    }
    return badRequest(ctx, 'unsupported_grant_type', `grant_type must be password, refresh_token or ${TOKEN_EXCHANGE}`);
  };

  const routes: Route[] = [];
  TOKEN_PATHS.forEach((pattern, i) => {
    const suffix = i === 0 ? '' : `_alias${i}`;
    routes.push(
      { method: 'GET', name: `auth_token_get${suffix}`, pattern, access: () => ({ kind: 'public' }), handle: getToken },
      { method: 'POST', name: `auth_token_post${suffix}`, pattern, access: () => ({ kind: 'public' }), handle: postToken },
    );
  });
  JWKS_PATHS.forEach((pattern, i) =>
    routes.push({
      method: 'GET',
      name: i === 0 ? 'auth_jwks' : 'auth_jwks_well_known',
      pattern,
      access: () => ({ kind: 'public' }),
      async handle(ctx) {
        sendJson(ctx.res, 200, { keys: d.keys.jwks() }, { 'Cache-Control': 'max-age=300' });
      },
    }),
  );
  return routes;
}
