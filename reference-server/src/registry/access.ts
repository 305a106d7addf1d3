/**
 * The authorization seam. Every route declares the access it needs (an AccessRequirement); before the
 * handler runs, the server asks the configured Authorizer to authenticate the request and check it.
 * The default (anonymous) authorizer allows everything; the token authorizer (auth/) enforces accounts,
 * scopes and tokens. Handlers never look at credentials themselves.
 */
import type { IncomingMessage } from 'node:http';

export type RepositoryAction = 'pull' | 'push' | 'delete';

export type AccessRequirement =
  /** GET /v2/: any authenticated principal (anonymous when the registry allows anonymous access). */
  | { kind: 'base' }
  /** An action on one repository (image name, e.g. "my-project/myapp"). */
  | {
      kind: 'repository';
      name: string;
      actions: RepositoryAction[];
      /**
       * Scopes wanted but not required: a mount (`?mount=&from=`) needs pull on `from` to mount, else
       * it falls back to an upload. The 401 challenge asks for them too (as CNCF Distribution does), and
       * a token that lacks one the account has gets a 401 insufficient_scope, so a client that follows
       * the challenge gets a token that can mount. An account without that access is not refused.
       */
      alsoAsk?: ReadonlyArray<{ name: string; actions: RepositoryAction[] }>;
    }
  /** GET /v2/_catalog: listing repositories (filtered by what the principal may pull). */
  | { kind: 'catalog' }
  /**
   * Management API that needs a registry administrator. A registry JWT issued for repository scopes is
   * enough only when `maintenance` is set (GC: the quick reference runs it with such a token); anything
   * else needs the credential itself (Basic password or access token) or a JWT with the management scope.
   */
  | { kind: 'admin'; maintenance?: boolean }
  /** Management API for any account (own password and tokens, project members); the handler checks who. */
  | { kind: 'account' }
  /** Management API readable by any principal that can read the given Nitro repository id. */
  | { kind: 'repository-admin-read'; repositoryId: string; maintenance?: boolean }
  /** No authentication at all (token endpoint, JWKS, metrics when public). */
  | { kind: 'public' };

/**
 * How the principal proved who it is; push rule must_use_auth_token_for_push looks at this.
 * `oidc`: a CI job's OIDC token (e.g. GitHub Actions' id-token), exchanged for a registry token.
 */
export type AuthMethod = 'anonymous' | 'password' | 'access-token' | 'oidc';

/**
 * Credentials made for machines, not typed by people: an account's access token, or a workload's
 * short-lived OIDC token. must_use_auth_token_for_push accepts these and refuses passwords.
 */
export const isAutomationCredential = (method: AuthMethod): boolean => method === 'access-token' || method === 'oidc';

/**
 * A workload (a CI job) authenticated by an OIDC token of a trusted issuer instead of an account. The
 * claims kept are the ones that say which workflow run it is, for audit lines (GitHub's names).
 */
export interface WorkloadIdentity {
  readonly issuer: string;
  /** The token's `sub`, e.g. "repo:acme/app:ref:refs/heads/main". */
  readonly subject: string;
  /** repository, ref, workflow, run_id, actor, … — only string claims of WORKLOAD_AUDIT_CLAIMS. */
  readonly claims: Readonly<Record<string, string>>;
}

/** The token claims copied into a WorkloadIdentity (and so into every audit line about it). */
export const WORKLOAD_AUDIT_CLAIMS = [
  'repository',
  'repository_owner',
  'ref',
  'ref_type',
  'sha',
  'workflow',
  'workflow_ref',
  'job_workflow_ref',
  'run_id',
  'run_attempt',
  'actor',
  'environment',
  'event_name',
] as const;

export interface Principal {
  /** Account name; null for anonymous and for workloads (an OIDC subject is never an account). */
  readonly subject: string | null;
  /** Set when an OIDC-authenticated workload is acting (method `oidc`). */
  readonly workload?: WorkloadIdentity | null;
  readonly admin: boolean;
  readonly method: AuthMethod;
  /**
   * Returns true when the principal may perform the action on the image name. Used by handlers that
   * filter (catalog) and by push rules. For the anonymous authorizer this is always true.
   */
  can(name: string, action: RepositoryAction): boolean;
  /**
   * Whether the bearer token this request carries (if any) grants the action: `can` is the account's
   * reach, a registry token narrows it per request. A cross-repository mount needs both on its source.
   */
  grants(name: string, action: RepositoryAction): boolean;
}

export interface Authorizer {
  /**
   * Authenticates the request (Basic or Bearer, or anonymous) and checks `need`.
   * Resolves to the principal, or rejects with RegistryError UNAUTHORIZED (401, with a WWW-Authenticate
   * challenge header naming the scope needed) or DENIED (403) / TOOMANYREQUESTS (429).
   */
  authorize(req: IncomingMessage, need: AccessRequirement): Promise<Principal>;
}

/** Everything allowed, as for a registry with no auth configured. */
export const ANONYMOUS_ADMIN: Principal = {
  subject: null,
  admin: true,
  method: 'anonymous',
  can: () => true,
  grants: () => true,
};

export const allowAllAuthorizer: Authorizer = {
  async authorize() {
    return ANONYMOUS_ADMIN;
  },
};
