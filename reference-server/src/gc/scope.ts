/**
 * Which image names a GC run or a stats query covers. A Nitro repository (repositories/) owns the image
 * names equal to its name or under `name/`; the default repository owns every other name. Until that
 * module is wired in, GC depends only on this small interface and a resolver the server passes in.
 */
export interface RepositoryScope {
  readonly id: string;
  readonly name: string;
  owns(imageName: string): boolean;
}

/** Looks a Nitro repository up by id; null when there is none. */
export type ScopeResolver = (id: string) => RepositoryScope | null;

/** The whole registry: what the CLI and the schedule collect when no repository is named. */
export const WHOLE_REGISTRY: RepositoryScope = { id: '*', name: '*', owns: () => true };

/** A scope owning `name` and everything under `name/` (the repositories module's rule for a named repository). */
export function prefixScope(id: string, name: string): RepositoryScope {
  return { id, name, owns: (image) => image === name || image.startsWith(`${name}/`) };
}

/** Resolver used until the repositories module provides one: the id is taken as the repository's name. */
export const nameAsIdResolver: ScopeResolver = (id) => (id === '*' ? WHOLE_REGISTRY : /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(id) ? prefixScope(id, id) : null);
