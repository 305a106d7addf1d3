/**
 * Scopes as the Docker token spec writes them: `repository:<name>:<action>[,<action>…]` and
 * `registry:catalog:*` (and `registry:api:*`, the management scope, below). The name may contain ':' only in a port-qualified form we never accept, so a
 * scope is split at the FIRST and LAST colon: type, then name (validated), then actions. Anything that
 * does not parse is ignored (never an error; the grant is simply smaller).
 *
 * Access-token scopes (stored with a PAT) use the same grammar, and their name may end in `/*`
 * (everything under a prefix) or be `*` (every name).
 */
import { isValidName } from '../oci/names.js';
import type { RepositoryAction } from '../registry/access.js';

export const ACTIONS: readonly RepositoryAction[] = ['pull', 'push', 'delete'];

export interface RepositoryScope {
  readonly type: 'repository';
  readonly name: string;
  readonly actions: RepositoryAction[];
}
export interface CatalogScope {
  readonly type: 'registry';
  readonly name: 'catalog';
  readonly actions: ['*'];
}
/**
 * `registry:api:*`: lets a registry JWT use the management API (/api/) with its subject's rights. A JWT
 * without it — one issued for repository scopes — authorizes there only GC and stats.
 */
export interface ManagementScope {
  readonly type: 'registry';
  readonly name: 'api';
  readonly actions: ['*'];
}
export type Scope = RepositoryScope | CatalogScope | ManagementScope;

export const MANAGEMENT_SCOPE = 'registry:api:*';

/** One claim of the JWT `access` array (Docker token spec). */
export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

/** Parses a requested scope; null when malformed. `allowPatterns` accepts `name/*` and `*` (PAT scopes). */
export function parseScope(s: string, allowPatterns = false): Scope | null {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  const type = s.slice(0, first);
  const name = s.slice(first + 1, last);
  const actionList = s.slice(last + 1).split(',').map((a) => a.trim()).filter((a) => a !== '');
  if (type === 'registry') {
    if (actionList.length !== 1 || actionList[0] !== '*') return null;
    if (name === 'catalog') return { type: 'registry', name: 'catalog', actions: ['*'] };
    if (name === 'api' && !allowPatterns) return { type: 'registry', name: 'api', actions: ['*'] };
    return null;
  }
  if (type !== 'repository') return null;
  const pattern = allowPatterns && (name === '*' || (name.endsWith('/*') && isValidName(name.slice(0, -2))));
  if (!pattern && !isValidName(name)) return null;
  const expanded = actionList.flatMap((a) => (a === '*' ? [...ACTIONS] : [a]));
  const actions = ACTIONS.filter((a) => expanded.includes(a));
  if (actions.length === 0 || expanded.some((a) => !(ACTIONS as readonly string[]).includes(a))) return null;
  return { type: 'repository', name, actions };
}

/** The space-separated or repeated `scope` parameters of a token request. */
export function requestedScopes(values: string[]): Scope[] {
  const out: Scope[] = [];
  for (const v of values) {
    for (const part of v.split(' ')) {
      if (part === '') continue;
      const s = parseScope(part);
      if (s) out.push(s);
    }
  }
  return out;
}

/** True when a PAT scope pattern covers `name`. */
export const patternCovers = (pattern: string, name: string): boolean =>
  pattern === '*' || pattern === name || (pattern.endsWith('/*') && name.startsWith(pattern.slice(0, -1)));

export const formatScope = (s: Scope): string => `${s.type}:${s.name}:${s.actions.join(',')}`;
