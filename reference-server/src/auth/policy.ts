/**
 * Who may do what, evaluated live on every request (so membership and rule changes take effect at once):
 *
 *   anonymous          pull on public repositories; nothing else
 *   registry admin     everything
 *   any account        pull on public repositories;
 *                      pull on private ones, and push/delete anywhere, unless the repository sets
 *                      must_be_project_member — then pull needs the read role and push/delete the
 *                      write role in the image's project (its first path component)
 *   access token       the intersection of its owner's rights and the token's scopes
 *   OIDC workload      exactly what the matched auth.oidc rules grant (public pulls included only if a
 *                      rule grants them); the rules are the operator's statement, so project
 *                      membership does not apply
 *
 * `denial()` explains a refusal in words a user can act on (returned in the 403 body).
 */
import type { AccessToken, Role, User } from './accounts.js';
import { roleRank } from './accounts.js';
import type { NitroRepositories } from '../repositories/store.js';
import type { RepositoryAction } from '../registry/access.js';
import { patternCovers } from './scopes.js';
import type { Workload } from './oidc/exchange.js';
import { grantsCover } from './oidc/rules.js';

export const projectOf = (imageName: string): string => imageName.split('/')[0]!;

const ROLE_NEEDED: Record<RepositoryAction, Role> = { pull: 'read', push: 'write', delete: 'write' };

/** Who is asking, as the policy needs it: the account, the access token used, the account's project roles. */
export interface Subject {
  readonly user: User | null;
  readonly token: AccessToken | null;
  readonly roles: ReadonlyMap<string, Role>;
  readonly workload?: Workload | null;
}

export class Policy {
  constructor(private readonly repositories: NitroRepositories) {}

  /** null when allowed, else the reason. */
  denial(who: Subject, name: string, action: RepositoryAction): string | null {
    const { user, token } = who;
    const repo = this.repositories.forImage(name);
    if (who.workload) {
      // Exactly the rules, not even public pulls: a workload's token never grants more than its rules.
      if (grantsCover(who.workload.grants, name, action)) return null;
      const w = who.workload.identity;
      return `no auth.oidc rule grants ${action} on ${name} to this workflow (${w.claims.repository ?? w.subject}${w.claims.ref ? ` at ${w.claims.ref}` : ''})`;
    }
    if (user === null) {
      if (action === 'pull' && repo.visibility === 'public') return null;
      return action === 'pull' ? `repository ${repo.name} is private: log in to pull ${name}` : `anonymous ${action} is not allowed`;
    }
    if (token && token.scopes !== null) {
      const covered = token.scopes.some((s) => s.type === 'repository' && patternCovers(s.name, name) && (s.actions as string[]).includes(action));
      if (!covered) return `access token ${token.name} is not scoped for ${action} on ${name}`;
    }
    if (user.admin) return null;
    if (action === 'pull' && repo.visibility === 'public') return null;
    if (!this.repositories.rules(repo).must_be_project_member) return null;
    const project = projectOf(name);
    const role = who.roles.get(project) ?? null;
    const needed = ROLE_NEEDED[action];
    if (roleRank(role) >= roleRank(needed)) return null;
    return `push rule must_be_project_member: ${action} on ${name} needs the ${needed} role in project ${project}, and ${user.username} ${
      role ? `only has ${role}` : 'is not a member'
    }`;
  }

  can(who: Subject, name: string, action: RepositoryAction): boolean {
    return this.denial(who, name, action) === null;
  }
}
