/**
 * The token Authorizer: authenticates the request (authenticate.ts) and checks the route's need.
 *
 * For a repository action, three things must hold: the account may do it now (policy.ts, live), an
 * access token used for the request is scoped for it, and — when a registry JWT was presented — the
 * JWT's access claim grants it (`push` in the claim also covers `delete`: the quick reference deletes
 * with a token obtained for `pull,push`; the account must still be allowed to delete).
 *
 * Refusals: no credentials → 401 with the challenge naming the scope; a JWT that lacks a scope the
 * account could get → 401 `insufficient_scope` (clients fetch a new token and retry); everything else
 * → 403 DENIED with the reason.
 */
import type { IncomingMessage } from 'node:http';
import type { AccessRequirement, Authorizer, Principal, RepositoryAction } from '../registry/access.js';
import { ANONYMOUS, type Identity, type Authenticator } from './authenticate.js';
import type { Policy } from './policy.js';
import type { NitroRepositories } from '../repositories/store.js';
import { workloadFields, type Audit } from './audit.js';
import { RegistryError } from '../oci/errors.js';
import { isValidName } from '../oci/names.js';
import { externalBaseUrl, clientAddress } from './realm.js';
import type { AuthConfig } from './config.js';
import { MANAGEMENT_SCOPE } from './scopes.js';

/** The Principal handed to the core, carrying the identity for the push-rule hooks. */
export class AuthPrincipal implements Principal {
  readonly subject: string | null;
  readonly admin: boolean;
  readonly method: Principal['method'];
  readonly workload: Principal['workload'];

  constructor(
    readonly identity: Identity,
    private readonly policy: Policy,
  ) {
    this.subject = identity.user?.username ?? null;
    // A scoped access token never carries its owner's admin rights.
    this.admin = Boolean(identity.user?.admin) && (identity.token === null || identity.token.scopes === null);
    this.method = identity.method;
    this.workload = identity.workload?.identity ?? null;
  }

  /** What the account (and its access token) may do; the catalog filters with it. */
  can(name: string, action: RepositoryAction): boolean {
    return this.policy.can(this.identity, name, action);
  }

  grants(name: string, action: RepositoryAction): boolean {
    return jwtGrants(this.identity, name, action);
  }

  denial(name: string, action: RepositoryAction): string | null {
    return this.policy.denial(this.identity, name, action);
  }
}

export const TOKEN_PATH = '/api/auth/token';

/** True when the JWT (if any) was issued with the management scope `registry:api:*`. */
export function jwtHasManagementScope(identity: Identity): boolean {
  return identity.jwt !== null && identity.jwt.access.some((a) => a.type === 'registry' && a.name === 'api' && a.actions.includes('*'));
}

export function jwtGrants(identity: Identity, name: string, action: RepositoryAction): boolean {
  if (!identity.jwt) return true;
  return identity.jwt.access.some(
    (a) =>
      a.type === 'repository' &&
      a.name === name &&
      (a.actions.includes(action) || a.actions.includes('*') || (action === 'delete' && a.actions.includes('push'))),
  );
}

export interface TokenAuthorizerDeps {
  readonly config: AuthConfig;
  readonly authenticator: Authenticator;
  readonly policy: Policy;
  readonly repositories: NitroRepositories;
  readonly audit: Audit;
}

export function challengeFor(req: IncomingMessage, config: AuthConfig, scope?: string, error?: string): Record<string, string> {
  const realm = `${externalBaseUrl(req, config)}${TOKEN_PATH}`;
  let v = `Bearer realm="${realm}",service="${config.service}"`;
  if (scope) v += `,scope="${scope}"`;
  if (error) v += `,error="${error}"`;
  return { 'WWW-Authenticate': v };
}

export function createTokenAuthorizer(d: TokenAuthorizerDeps): Authorizer & { principalFor(identity: Identity): AuthPrincipal } {
  const principalFor = (identity: Identity) => new AuthPrincipal(identity, d.policy);

  const deny = (req: IncomingMessage, p: AuthPrincipal, message: string, detail: Record<string, unknown>): never => {
    d.audit.event('denied', { user: p.subject, method: p.method, ip: req.socket.remoteAddress, reason: message, ...detail, ...workloadFields(p.workload) });
    throw new RegistryError('DENIED', message, detail);
  };

  return {
    principalFor,
    async authorize(req, need: AccessRequirement): Promise<Principal> {
      if (need.kind === 'public') return principalFor(ANONYMOUS);

      const management = need.kind === 'admin' || need.kind === 'account' || need.kind === 'repository-admin-read';
      // Several scopes go space-separated in one scope parameter, as CNCF Distribution writes them.
      const scopeOf = (n: AccessRequirement): string | undefined =>
        n.kind === 'repository'
          ? [n, ...(n.alsoAsk ?? [])].map((s) => `repository:${s.name}:${s.actions.join(',')}`).join(' ')
          : n.kind === 'catalog'
            ? 'registry:catalog:*'
            : management && !('maintenance' in n && n.maintenance)
              ? MANAGEMENT_SCOPE
              : undefined;
      const challenge = (error?: string) => challengeFor(req, d.config, scopeOf(need), error);

      if (need.kind === 'repository' && !isValidName(need.name)) {
        throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: need.name });
      }

      const identity = await d.authenticator.fromRequest(req, clientAddress(req, d.config), challenge);
      const p = principalFor(identity);
      // A workload has no account but did prove who it is.
      const anonymous = identity.user === null && !identity.workload;

      // Least privilege on /api/: a token handed to a job for `repository:x:pull` is not a key to the
      // registry's settings, accounts or credentials. Only GC and stats (`maintenance`) accept it.
      if (management && !anonymous && identity.jwt && !('maintenance' in need && need.maintenance) && !jwtHasManagementScope(identity)) {
        d.audit.event('denied', { user: p.subject, method: p.method, ip: req.socket.remoteAddress, reason: 'registry token without the management scope on /api/' });
        throw new RegistryError(
          'UNAUTHORIZED',
          `a registry token issued for repository access does not authorize the management API; present your password or access token (Basic), or request a token with scope ${MANAGEMENT_SCOPE}`,
          undefined,
          challenge('insufficient_scope'),
        );
      }

      switch (need.kind) {
        case 'base':
          if (anonymous) throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, challenge());
          return p;
        case 'catalog':
          // Any account's token will do (the quick reference lists with a repository-scoped token);
          // the listing itself is filtered by what the account may pull.
          if (anonymous) throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, challenge());
          return p;
        case 'account':
          if (anonymous) throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, challenge());
          return p;
        case 'admin':
          if (anonymous) throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, challenge());
          if (!p.admin) deny(req, p, `${p.subject ?? 'an OIDC workload'} is not a registry administrator${identity.token?.scopes ? ' (scoped access tokens never are)' : ''}`, {});
          return p;
        case 'repository-admin-read': {
          const repo = d.repositories.get(need.repositoryId);
          if (p.admin) return p;
          if (anonymous && (!repo || repo.visibility !== 'public')) throw new RegistryError('UNAUTHORIZED', 'authentication required', undefined, challenge());
          if (!repo) return p; // the handler answers 404
          if (repo.visibility === 'public' || (!anonymous && p.can(repo.name, 'pull'))) return p;
          return deny(req, p, `no read access to repository ${repo.id}`, { repository: repo.id });
        }
        case 'repository': {
          for (const action of need.actions) {
            const reason = p.denial(need.name, action);
            if (reason === null && jwtGrants(identity, need.name, action)) continue;
            if (anonymous) {
              // Anonymous clients (with or without an anonymous token) are asked to authenticate.
              throw new RegistryError('UNAUTHORIZED', 'authentication required', { name: need.name, action }, challenge(identity.jwt ? 'insufficient_scope' : undefined));
            }
            if (reason === null) {
              throw new RegistryError(
                'UNAUTHORIZED',
                `token does not grant ${action} on ${need.name}; request a token with scope repository:${need.name}:${need.actions.join(',')}`,
                { name: need.name, action },
                challenge('insufficient_scope'),
              );
            }
            deny(req, p, reason, { name: need.name, action });
          }
          // Wanted, not required (a mount's source): when the account may do it but this request's token
          // does not say so, ask for a token that does (401 insufficient_scope naming every scope, as CNCF
          // Distribution does); a client that follows it comes back able to mount. When the account may
          // not, carry on: the handler falls back (a mount becomes an upload session).
          for (const extra of need.alsoAsk ?? []) {
            for (const action of extra.actions) {
              if (identity.jwt && p.denial(extra.name, action) === null && !jwtGrants(identity, extra.name, action)) {
                throw new RegistryError(
                  'UNAUTHORIZED',
                  `token does not grant ${action} on ${extra.name}; request a token with scope ${scopeOf(need)}`,
                  { name: extra.name, action },
                  challenge('insufficient_scope'),
                );
              }
            }
          }
          return p;
        }
      }
    },
  };
}
