/**
 * The four push rules of a Nitro repository, enforced through the core's RegistryHooks:
 *
 *   allow_tag_overwrite=false      → WriteRules.immutableTags: the metadata store refuses (409 TAG_IMMUTABLE)
 *                                    moving a tag, atomically in its transaction (registry/immutability.ts
 *                                    decides what counts as a move and which deletes are refused).
 *   must_be_project_member=true    → push/delete need the write role in the project (403 DENIED)
 *   must_use_auth_token_for_push   → a push authenticated by password (Basic, or a JWT obtained with a
 *                                    password) is refused (403 DENIED), an automation credential is
 *                                    required: an access token or a CI job's OIDC token
 *   require_content_trust=true     → manifests are served only when a signature verifies (content-trust.ts),
 *                                    except to accounts that may push there (so they can sign)
 *
 * Rules are read on every call, so a change through the API applies to the next request.
 */
import type { RegistryHooks } from '../registry/hooks.js';
import type { WriteRules } from '../registry/immutability.js';
import { isAutomationCredential, type Principal, type RepositoryAction } from '../registry/access.js';
import type { NitroRepositories, NitroRepository } from '../repositories/store.js';
import { RegistryError } from '../oci/errors.js';
import { workloadFields, type Audit } from './audit.js';
import type { ContentTrust } from './content-trust.js';
import { AuthPrincipal } from './authorizer.js';

export function createPushRuleHooks(d: { repositories: NitroRepositories; contentTrust: ContentTrust; audit: Audit }): RegistryHooks {
  const who = (p: Principal) => ({ user: p.subject, method: p.method, ...workloadFields(p.workload) });

  const deny = (p: Principal, repo: NitroRepository, rule: string, message: string, extra: Record<string, unknown>): never => {
    d.audit.event('denied', { ...who(p), rule, repository: repo.id, reason: message, ...extra });
    throw new RegistryError('DENIED', message, { rule, repository: repo.id, ...extra });
  };

  const checkWriter = (p: Principal, name: string, action: RepositoryAction, repo: NitroRepository): void => {
    const rules = d.repositories.rules(repo);
    if (action === 'push' && rules.must_use_auth_token_for_push && !isAutomationCredential(p.method)) {
      const how = p.method === 'password' ? 'an account password' : 'no credentials';
      deny(
        p,
        repo,
        'must_use_auth_token_for_push',
        `push rule must_use_auth_token_for_push: pushes to repository ${repo.id} must authenticate with a CI job's OIDC token or an access token, not ${how}; ` +
          'create one with POST /api/users/<user>/tokens or `nitro-registry token create` and log in with it',
        { name },
      );
    }
    if (rules.must_be_project_member) {
      // The authorizer already refused non-members; this keeps the rule true whatever authorizer is in use.
      const reason = p instanceof AuthPrincipal ? p.denial(name, action) : p.can(name, action) ? null : `${action} on ${name} needs project membership`;
      if (reason !== null) deny(p, repo, 'must_be_project_member', reason, { name });
    }
  };

  const writeRules = (repo: NitroRepository): WriteRules => ({ immutableTags: !d.repositories.rules(repo).allow_tag_overwrite });

  return {
    async beforeBlobPush({ name, principal }) {
      checkWriter(principal, name, 'push', d.repositories.forImage(name));
    },
    async beforeManifestPut({ name, tags, digest, principal }) {
      const repo = d.repositories.forImage(name);
      checkWriter(principal, name, 'push', repo);
      d.audit.event('push', { ...who(principal), repository: repo.id, name, tag: tags.length === 1 ? tags[0] : tags.length === 0 ? null : tags, digest });
      return writeRules(repo);
    },
    async beforeDelete({ name, tag, digest, principal }) {
      const repo = d.repositories.forImage(name);
      checkWriter(principal, name, 'delete', repo);
      d.audit.event('delete', { ...who(principal), repository: repo.id, name, tag, digest });
      return writeRules(repo);
    },
    async beforeManifestServe({ name, digest, principal }) {
      const repo = d.repositories.forImage(name);
      if (!d.repositories.rules(repo).require_content_trust) return;
      // Accounts that may push here may read unsigned manifests: `cosign sign` reads the manifest before it
      // signs (tolerating only 404), so "push, then sign" needs it. The request's token must carry push
      // too, so a pull-only token of a writer (a deploy job) still sees only signed images. Never for an
      // anonymous principal (with auth disabled everyone could push).
      if (principal.subject !== null && principal.can(name, 'push') && principal.grants(name, 'push')) return;
      await d.contentTrust.check(repo, name, digest);
    },
  };
}
