/**
 * Nitro repositories: hosted Docker repositories that own image names. A repository named `team` owns
 * `team` and every name under `team/`; the longest owning name wins; the default repository (name
 * `default`) owns every other name. Stored by the metadata backend's RepositoryStore; repositories
 * declared in the config file are written there at start (the file wins over API edits of the same name
 * on the next start). Reads are served from an in-memory copy: refreshed at once after a write on this
 * replica (the next request sees it), and within `refreshMs` after a write on another replica (the
 * store's version counter is polled).
 */
import { randomUUID } from 'node:crypto';
import { isValidName } from '../oci/names.js';
import { DEFAULT_REPOSITORY_RULES, DEFAULT_RULES, effectiveRules, parseRepositoryConfig, RepositoryConfigError, type PushRules, type RepositoryConfig } from './config.js';
import type { RepositoryRow, RepositoryStore } from '../metadata/repository-store.js';

import type { Visibility } from '../metadata/repository-store.js';
export type { Visibility };

export interface NitroRepository {
  readonly id: string;
  readonly name: string;
  readonly visibility: Visibility;
  readonly config: RepositoryConfig;
  /** 'config': declared in the config file; 'api': created through /api/repository; 'builtin': the default. */
  readonly source: 'config' | 'api' | 'builtin';
  readonly createdAt: number;
}

export const DEFAULT_REPOSITORY_NAME = 'default';

export class RepositoryConflictError extends Error {
  override name = 'RepositoryConflictError';
}

export interface NitroRepositories {
  list(): NitroRepository[];
  /** By id (or by name, for convenience: ids of config-declared repositories default to their name). */
  get(idOrName: string): NitroRepository | null;
  /** The repository that owns an image name (never null: the default repository owns the rest). */
  forImage(imageName: string): NitroRepository;
  rules(repo: NitroRepository): PushRules;
  create(input: { name: string; visibility?: Visibility; config: unknown; id?: string }): Promise<NitroRepository>;
  updateConfig(id: string, config: unknown): Promise<NitroRepository>;
  setVisibility(id: string, visibility: Visibility): Promise<NitroRepository>;
  delete(id: string): Promise<boolean>;
  /** True when `imageName` belongs to `repo` (the longest-prefix rule, default repository included). */
  owns(repo: NitroRepository, imageName: string): boolean;
  /** The subset of `allNames` that belongs to repository `id` (or name) — for GC and statistics. */
  imageNamesOf(id: string, allNames: Iterable<string>): string[];
  /** Bumped on every change seen by this replica; caches keyed on it are invalidated by rule edits. */
  readonly version: number;
  /** Re-reads the store now (also done on a timer when refreshMs is set). */
  refresh(): Promise<void>;
  close(): void;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkVisibility(v: unknown): Visibility {
  if (v === 'public' || v === 'private') return v;
  throw new RepositoryConfigError('visibility must be "public" or "private"');
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new RepositoryConfigError('name must be a valid image name prefix (lower-case components like "my-project" or "team/app")');
  }
  return name;
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
    throw new RepositoryConfigError('id must be 1-128 characters of letters, digits, ".", "_" or "-"');
  }
  return id;
}

/** Validates the `repositories:` section of the config file: a list of `{name, id?, visibility?, config?}`. */
export function parseDeclaredRepositories(declared: unknown, now: number): RepositoryRow[] {
  const decls = declared === undefined || declared === null ? [] : declared;
  if (!Array.isArray(decls)) throw new RepositoryConfigError('repositories must be a list');
  return decls.map((d, i) => {
    if (!isObj(d)) throw new RepositoryConfigError(`repositories[${i}] must be a mapping with a name`);
    for (const k of Object.keys(d)) {
      if (!['id', 'name', 'visibility', 'config'].includes(k)) throw new RepositoryConfigError(`repositories[${i}]: unknown key "${k}"`);
    }
    try {
      const name = checkName(d.name);
      return {
        id: d.id === undefined ? name : checkId(d.id),
        name,
        visibility: d.visibility === undefined ? (name === DEFAULT_REPOSITORY_NAME ? 'public' : 'private') : checkVisibility(d.visibility),
        config: JSON.stringify(parseRepositoryConfig(d.config ?? { type: 'Hosted' })),
        source: 'config' as const,
        createdAt: now,
      };
    } catch (e) {
      throw new RepositoryConfigError(`repositories[${i}]: ${(e as Error).message}`);
    }
  });
}

/**
 * Opens the repositories and applies the config file's declarations. A declaration named `default`
 * configures the default repository. `refreshMs`: poll the store for changes made by other replicas.
 */
export async function openRepositories(store: RepositoryStore, declared: unknown, opts: { refreshMs?: number } = {}): Promise<NitroRepositories> {
  let cache: NitroRepository[] = [];
  let version = 0;
  let storeVersion = -1;

  const toRepo = (r: RepositoryRow): NitroRepository => ({
    id: r.id,
    name: r.name,
    visibility: r.visibility,
    config: parseRepositoryConfig(JSON.parse(r.config)),
    source: r.source,
    createdAt: r.createdAt,
  });
  const reload = async () => {
    const v = await store.version();
    const rows = await store.list();
    cache = rows.map(toRepo);
    storeVersion = v;
    version++;
  };

  const now = Date.now();
  await store.applyDeclared(parseDeclaredRepositories(declared, now), [
    {
      id: DEFAULT_REPOSITORY_NAME,
      name: DEFAULT_REPOSITORY_NAME,
      visibility: 'public',
      config: JSON.stringify({ type: 'Hosted' }),
      source: 'builtin',
      createdAt: now,
    },
  ]);
  await reload();

  let timer: NodeJS.Timeout | null = null;
  if (opts.refreshMs && opts.refreshMs > 0) {
    timer = setInterval(() => {
      store
        .version()
        .then((v) => (v !== storeVersion ? reload() : undefined))
        .catch(() => undefined); // the next tick retries; readiness reports the database
    }, opts.refreshMs);
    timer.unref();
  }

  const byId = (id: string) => cache.find((r) => r.id === id) ?? null;
  const defaultRepo = () => cache.find((r) => r.name === DEFAULT_REPOSITORY_NAME)!;

  const forImage = (imageName: string): NitroRepository => {
    let best: NitroRepository | null = null;
    for (const r of cache) {
      if (r.name === DEFAULT_REPOSITORY_NAME) continue;
      if ((imageName === r.name || imageName.startsWith(r.name + '/')) && (!best || r.name.length > best.name.length)) best = r;
    }
    return best ?? defaultRepo();
  };

  const mustGet = (id: string): NitroRepository => {
    const r = byId(id) ?? cache.find((x) => x.name === id) ?? null;
    if (!r) throw new RepositoryConflictError(`no repository with id ${id}`);
    return r;
  };

  return {
    get version() {
      return version;
    },
    list: () => [...cache],
    get: (idOrName) => byId(idOrName) ?? cache.find((r) => r.name === idOrName) ?? null,
    forImage,
    rules: (repo) => effectiveRules(repo.config, repo.name === DEFAULT_REPOSITORY_NAME ? DEFAULT_REPOSITORY_RULES : DEFAULT_RULES),
    async create(input) {
      const name = checkName(input.name);
      const id = input.id === undefined ? randomUUID() : checkId(input.id);
      const config = parseRepositoryConfig(input.config ?? { type: 'Hosted' });
      const visibility = input.visibility === undefined ? 'private' : checkVisibility(input.visibility);
      const result = await store.insert({ id, name, visibility, config: JSON.stringify(config), source: 'api', createdAt: Date.now() });
      if (result === 'name-taken') throw new RepositoryConflictError(`a repository named ${name} already exists`);
      if (result === 'id-taken') throw new RepositoryConflictError(`a repository with id ${id} already exists`);
      await reload();
      return byId(id)!;
    },
    async updateConfig(id, raw) {
      const repo = mustGet(id);
      const config = parseRepositoryConfig(raw);
      if (!(await store.update(repo.id, { config: JSON.stringify(config) }))) throw new RepositoryConflictError(`no repository with id ${id}`);
      await reload();
      return byId(repo.id)!;
    },
    async setVisibility(id, v) {
      const repo = mustGet(id);
      if (!(await store.update(repo.id, { visibility: checkVisibility(v) }))) throw new RepositoryConflictError(`no repository with id ${id}`);
      await reload();
      return byId(repo.id)!;
    },
    async delete(id) {
      const repo = byId(id);
      if (!repo) return false;
      if (repo.name === DEFAULT_REPOSITORY_NAME) throw new RepositoryConflictError('the default repository cannot be deleted');
      const deleted = await store.delete(repo.id);
      await reload();
      return deleted;
    },
    owns: (repo, imageName) => forImage(imageName).id === repo.id,
    imageNamesOf(id, allNames) {
      const repo = byId(id) ?? cache.find((r) => r.name === id) ?? null;
      const out: string[] = [];
      if (!repo) return out;
      for (const n of allNames) if (forImage(n).id === repo.id) out.push(n);
      return out;
    },
    refresh: reload,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
