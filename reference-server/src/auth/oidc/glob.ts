/**
 * The globs of OIDC rules, for claim values and image names alike: `*` matches within one path segment
 * (never a `/`), `**` matches across segments, everything else is literal. So `refs/heads/*` matches
 * refs/heads/main but not refs/heads/feature/x, and `acme/**` matches every image under acme/.
 * Anchored at both ends: a glob never matches a mere substring.
 */
export type Glob = (value: string) => boolean;

export const isGlob = (pattern: string): boolean => pattern.includes('*');

export function compileGlob(pattern: string): Glob {
  if (!isGlob(pattern)) return (value) => value === pattern;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  const compiled = new RegExp(`^${re}$`, 's');
  return (value) => compiled.test(value);
}
