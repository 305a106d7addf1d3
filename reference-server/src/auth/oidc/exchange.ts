/**
 * OIDC token → workload: verifies the token (verifier.ts), applies the issuer's rules (rules.ts) and
 * returns who the workload is (for audit), what it may do (the matched grants) and until when (the
 * token's exp). A token that verifies but matches no rule is refused here, before any registry token
 * exists: "trusted issuer" alone grants nothing.
 *
 * OIDC_USERNAME is the fixed Basic user name that carries an OIDC token as its password, so
 * `docker login -u oidc --password-stdin <<< "$TOKEN"` works with any client; it is reserved (no
 * account can be called that), so it never competes with a password login.
 */
import { WORKLOAD_AUDIT_CLAIMS, type RepositoryAction, type WorkloadIdentity } from '../../registry/access.js';
import type { OidcGrant } from './config.js';
import { matchingGrants } from './rules.js';
import { OidcTokenRejected, type OidcVerifier } from './verifier.js';

export const OIDC_USERNAME = 'oidc';

export interface Workload {
  readonly identity: WorkloadIdentity;
  readonly grants: readonly OidcGrant[];
  /** ms since the epoch: the OIDC token's exp. */
  readonly expiresAt: number;
}

export function workloadIdentity(issuer: string, subject: string, claims: Readonly<Record<string, unknown>>): WorkloadIdentity {
  const kept: Record<string, string> = {};
  for (const c of WORKLOAD_AUDIT_CLAIMS) {
    const v = claims[c];
    if (typeof v === 'string') kept[c] = v.slice(0, 512);
  }
  return { issuer, subject, claims: kept };
}

/** Grants that name exactly what a registry JWT's access claim lists (a workload presenting that JWT). */
export const exactGrants = (access: ReadonlyArray<{ type: string; name: string; actions: readonly string[] }>): OidcGrant[] =>
  access
    .filter((a) => a.type === 'repository')
    .map((a) => ({
      name: a.name,
      matches: (n: string) => n === a.name,
      actions: a.actions.filter((x): x is RepositoryAction => x === 'pull' || x === 'push' || x === 'delete'),
    }));

export class OidcExchange {
  constructor(private readonly verifier: OidcVerifier) {}

  get enabled(): boolean {
    return this.verifier.enabled;
  }

  /** Still configured? A registry token of a workload dies with its issuer's removal from the config. */
  trusts(issuer: string): boolean {
    return this.verifier.trusts(issuer);
  }

  async exchange(token: string): Promise<Workload> {
    const { issuer, claims } = await this.verifier.verify(token);
    const identity = workloadIdentity(issuer.issuer, claims.sub, claims);
    const grants = matchingGrants(issuer.rules, claims);
    if (grants.length === 0) {
      const said = ['repository', 'ref', 'workflow'].filter((c) => identity.claims[c]).map((c) => `${c}=${identity.claims[c]}`);
      throw new OidcTokenRejected(`no rule of issuer ${issuer.issuer} matches this token (sub=${claims.sub.slice(0, 200)}${said.length ? `, ${said.join(', ')}` : ''})`);
    }
    return { identity, grants, expiresAt: claims.exp * 1000 };
  }
}
