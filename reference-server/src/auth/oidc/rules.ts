/**
 * Rules over a verified token's claims → what the workload may do. A rule applies when every claim it
 * names is present in the token as a string and matches its glob; the grants of all applying rules add
 * up. Claims that are not strings (numbers, lists, objects) never match: GitHub sends every claim the
 * rules care about as a string, and guessing a conversion would be a way around an exact rule.
 */
import type { RepositoryAction } from '../../registry/access.js';
import type { OidcGrant, OidcRule } from './config.js';

export function matchingGrants(rules: readonly OidcRule[], claims: Readonly<Record<string, unknown>>): OidcGrant[] {
  const out: OidcGrant[] = [];
  for (const rule of rules) {
    const applies = rule.match.every(({ claim, matches }) => {
      const v = claims[claim];
      return typeof v === 'string' && matches(v);
    });
    if (applies) out.push(...rule.grant);
  }
  return out;
}

/** True when one of the grants names the image (glob) with the action. No implied actions. */
export const grantsCover = (grants: readonly OidcGrant[], name: string, action: RepositoryAction): boolean =>
  grants.some((g) => g.actions.includes(action) && g.matches(name));
