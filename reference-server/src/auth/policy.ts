/**
 * Who may do what on a repository, evaluated live on every request (so membership and rule changes take
 * effect at once). "Role" is the account's role in the image's project (its first path component); for
 * images in the built-in `default` repository a role in the project `default` counts too, and so does the
 * account's own namespace (`<username>/…`, as if it held the admin role there):
 *
 *   anonymous          pull on public repositories; nothing else
 *   registry admin     everything
 *   account            pull on public repositories; pull on private ones with the read role;
 *                      push/delete with the write role. With the push rule must_be_project_member only
 *                      the project role counts (not `default`'s role, not the own namespace).
 *   access token       the intersection of its owner's rights and the token's scopes
 *   OIDC workload      exactly what the matched auth.oidc rules grant (public pulls included only if a
 *                      rule grants them); the rules are the operator's statement, so project
 *                      membership does not apply
 *
 * So "private" means members only (as in Harbor and the Nitro fork), and a plain account cannot overwrite
 * or delete other people's images in `default`. docs/auth.md has the whole table.
 *
 * `denial()` explains a refusal in words a user can act on (returned in the 403 body).
 */
import type { AccessToken, Role, User } from './accounts.js';
import { roleRank } from './accounts.js';
import { DEFAULT_REPOSITORY_NAME, type NitroRepositories } from '../repositories/store.js';
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
    const project = projectOf(name);
    const needed = ROLE_NEEDED[action];
    const projectRole = who.roles.get(project) ?? null;
    if (this.repositories.rules(repo).must_be_project_member) {
      if (roleRank(projectRole) >= roleRank(needed)) return null;
      return `push rule must_be_project_member: ${action} on ${name} needs the ${needed} role in project ${project}, and ${user.username} ${
        projectRole ? `only has ${projectRole}` : 'is not a member'
      }`;
    }
    const inDefault = repo.name === DEFAULT_REPOSITORY_NAME;
    // The account's own namespace, in `default` only: a repository an admin created is governed by its roles.
    if (inDefault && name.startsWith(`${user.username}/`)) return null;
    const defaultRole = inDefault ? (who.roles.get(DEFAULT_REPOSITORY_NAME) ?? null) : null;
    const role = roleRank(defaultRole) > roleRank(projectRole) ? defaultRole : projectRole;
    if (roleRank(role) >= roleRank(needed)) return null;
    const where = repo.visibility === 'private' ? `private repository ${repo.name}` : `repository ${repo.name}`;
    return `${action} on ${name} (${where}) needs the ${needed} role in project ${project}${
      inDefault ? ` or in project ${DEFAULT_REPOSITORY_NAME}, or a name under ${user.username}/` : ''
    }; ${user.username} ${role ? `only has ${role}` : 'has no role there'}`;
  }

  can(who: Subject, name: string, action: RepositoryAction): boolean {
    return this.denial(who, name, action) === null;
  }
}
