/**
 * Turns an Authorization header into an identity: nobody (anonymous), an account by password, an account
 * by access token (Basic with the token as password, or the raw token as a Bearer), a CI workload by its
 * OIDC token (Basic with the reserved user name `oidc`, see oidc/exchange.ts), or a registry JWT.
 * A JWT is re-checked against the live account state: a deleted user, a revoked or expired access token,
 * or an account that lost admin rights loses them at once.
 *
 * Failures are RegistryError UNAUTHORIZED (with the challenge) or TOOMANYREQUESTS; messages never echo
 * the secret.
 */
import type { IncomingMessage } from 'node:http';
import type { Accounts, AccessToken, Role, User } from './accounts.js';
import { ACCESS_TOKEN_PREFIX } from './accounts.js';
import type { LoginRateLimiter } from './rate-limit.js';
import type { KeyRing } from './keys.js';
import { verifyToken, TokenInvalidError, type TokenClaims, type TokenSettings } from './tokens.js';
import type { AuthMethod } from '../registry/access.js';
import { RegistryError } from '../oci/errors.js';
import { workloadFields, type Audit } from './audit.js';
import { OIDC_USERNAME, exactGrants, type OidcExchange, type Workload } from './oidc/exchange.js';
import { OidcTokenRejected } from './oidc/verifier.js';

export interface Identity {
  readonly user: User | null;
  /** The access token the identity was proven with (directly or via the JWT's tid). */
  readonly token: AccessToken | null;
  readonly method: AuthMethod;
  /** Present when a registry JWT was presented: its access claim limits what this request may do. */
  readonly jwt: TokenClaims | null;
  /** The account's roles per project, as of this request. */
  readonly roles: ReadonlyMap<string, Role>;
  /** A CI workload authenticated by OIDC (then `user` is null and method is `oidc`). */
  readonly workload?: Workload | null;
}

const NO_ROLES: ReadonlyMap<string, Role> = new Map();

export const ANONYMOUS: Identity = { user: null, token: null, method: 'anonymous', jwt: null, roles: NO_ROLES };

export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'malformed' };

/** Parses Authorization. Basic passwords may contain ':' (the split is at the first one). */
export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return { kind: 'malformed' };
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return { kind: 'bearer', token: m[2]! };
  if (scheme !== 'basic') return { kind: 'malformed' };
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return { kind: 'malformed' };
  return { kind: 'basic', username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

export interface AuthenticatorDeps {
  readonly accounts: Accounts;
  readonly limiter: LoginRateLimiter;
  readonly keys: KeyRing;
  readonly tokenSettings: TokenSettings;
  readonly audit: Audit;
  /** Trusted OIDC issuers; null or disabled: `oidc` is just a user name nobody has. */
  readonly oidc?: OidcExchange | null;
}

export class Authenticator {
  constructor(private readonly d: AuthenticatorDeps) {}

  /** Password or access token for `username`. */
  async login(username: string, secret: string, ip: string, challenge: () => Record<string, string>): Promise<Identity> {
    // The reserved user name carries an OIDC token (oidcLogin applies the same rate limit).
    if (username === OIDC_USERNAME && this.oidcEnabled) return this.oidcLogin(secret, ip, challenge);
    const wait = await this.d.limiter.blockedFor(ip, username);
    if (wait > 0) {
      this.d.audit.event('login_rate_limited', { user: username, ip });
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins; retry in ${wait} s`, undefined, { 'Retry-After': String(wait) });
    }
    let identity: Identity | null = null;
    if (secret.startsWith(ACCESS_TOKEN_PREFIX)) {
      const token = await this.d.accounts.checkToken(secret, username);
      const user = token ? await this.d.accounts.getUser(token.username) : null;
      if (token && user) identity = await this.withRoles({ user, token, method: 'access-token', jwt: null });
    } else {
      const user = await this.d.accounts.checkPassword(username, secret);
      if (user) identity = await this.withRoles({ user, token: null, method: 'password', jwt: null });
    }
    if (!identity) {
      await this.d.limiter.fail(ip, username);
      this.d.audit.event('login_failed', { user: username, ip });
      throw new RegistryError('UNAUTHORIZED', 'invalid username or password', undefined, challenge());
    }
    await this.d.limiter.succeed(ip, username);
    return identity;
  }

  get oidcEnabled(): boolean {
    return Boolean(this.d.oidc?.enabled);
  }

  /**
   * An OIDC token (the Basic password of the reserved user name, or a token-exchange subject_token):
   * verified, matched against the rules. Failures count against the login rate limit like passwords.
   */
  async oidcLogin(token: string, ip: string, challenge: () => Record<string, string>): Promise<Identity> {
    const wait = await this.d.limiter.blockedFor(ip, OIDC_USERNAME);
    if (wait > 0) {
      this.d.audit.event('login_rate_limited', { user: OIDC_USERNAME, ip });
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins; retry in ${wait} s`, undefined, { 'Retry-After': String(wait) });
    }
    let workload: Workload;
    try {
      if (!this.d.oidc?.enabled) throw new OidcTokenRejected('this registry trusts no OIDC issuer (auth.oidc)');
      workload = await this.d.oidc.exchange(token);
    } catch (e) {
      const reason = e instanceof OidcTokenRejected ? e.message : 'OIDC token invalid';
      await this.d.limiter.fail(ip, OIDC_USERNAME);
      this.d.audit.event('login_failed', { user: OIDC_USERNAME, method: 'oidc', ip, reason });
      throw new RegistryError('UNAUTHORIZED', `OIDC token refused: ${reason}`, undefined, challenge());
    }
    this.d.audit.event('oidc_exchange', { method: 'oidc', ip, ...workloadFields(workload.identity), grants: workload.grants.map((g) => `${g.name}:${g.actions.join(',')}`) });
    return { user: null, token: null, method: 'oidc', jwt: null, roles: NO_ROLES, workload };
  }

  /** A raw access token (Bearer nrt_…) or a registry JWT. */
  async bearer(token: string, challenge: (error?: string) => Record<string, string>): Promise<Identity> {
    if (token.startsWith(ACCESS_TOKEN_PREFIX)) {
      const t = await this.d.accounts.checkToken(token, null);
      const user = t ? await this.d.accounts.getUser(t.username) : null;
      if (!t || !user) throw new RegistryError('UNAUTHORIZED', 'invalid or expired access token', undefined, challenge('invalid_token'));
      return this.withRoles({ user, token: t, method: 'access-token', jwt: null });
    }
    let claims: TokenClaims;
    try {
      claims = await verifyToken((kid) => this.d.keys.verificationKey(kid), this.d.tokenSettings, token);
    } catch (e) {
      const reason = e instanceof TokenInvalidError ? e.message : 'token invalid';
      throw new RegistryError('UNAUTHORIZED', reason, undefined, challenge('invalid_token'));
    }
    if (claims.auth_method === 'oidc') {
      const w = claims.workload!;
      if (!this.d.oidc?.trusts(w.issuer)) throw new RegistryError('UNAUTHORIZED', 'the OIDC issuer of this token is no longer trusted', undefined, challenge('invalid_token'));
      return { user: null, token: null, method: 'oidc', jwt: claims, roles: NO_ROLES, workload: { identity: w, grants: exactGrants(claims.access), expiresAt: Infinity } };
    }
    if (claims.sub === '') return { ...ANONYMOUS, jwt: claims };
    const user = await this.d.accounts.getUser(claims.sub);
    if (!user) throw new RegistryError('UNAUTHORIZED', 'token subject no longer exists', undefined, challenge('invalid_token'));
    let t: AccessToken | null = null;
    if (claims.tid !== undefined) {
      t = await this.d.accounts.liveToken(claims.tid);
      if (!t || t.username !== user.username) {
        throw new RegistryError('UNAUTHORIZED', 'the access token this token was issued for is revoked or expired', undefined, challenge('invalid_token'));
      }
    }
    return this.withRoles({ user, token: t, method: claims.auth_method, jwt: claims });
  }

  /** The account's project roles, read once per request (policy.ts decides on them synchronously). */
  async withRoles(identity: Omit<Identity, 'roles'>): Promise<Identity> {
    const roles = identity.user ? await this.d.accounts.memberships(identity.user.username) : NO_ROLES;
    return { ...identity, roles };
  }

  async fromRequest(req: IncomingMessage, ip: string, challenge: (error?: string) => Record<string, string>): Promise<Identity> {
    const cred = parseAuthorization(req.headers.authorization);
    switch (cred.kind) {
      case 'none':
        return ANONYMOUS;
      case 'malformed':
        throw new RegistryError('UNAUTHORIZED', 'malformed Authorization header', undefined, challenge('invalid_request'));
      case 'basic':
        return this.login(cred.username, cred.password, ip, () => challenge());
      case 'bearer':
        return this.bearer(cred.token, challenge);
    }
  }
}
