/**
 * Nitro repositories: hosted Docker repositories that own image names. A repository named `team` owns
 * `team` and every name under `team/`; the longest owning name wins; the default repository (name
 * `default`) owns every other name. Stored in nitro_repositories (same SQLite database as the registry);
 * repositories declared in the config file are written there at start (the file wins over API edits of
 * the same name on the next start). Reads are served from an in-memory copy refreshed on every write,
 * so a rule change takes effect on the very next request.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { isValidName } from '../oci/names.js';
import { effectiveRules, parseRepositoryConfig, RepositoryConfigError, type PushRules, type RepositoryConfig } from './config.js';

export type Visibility = 'public' | 'private';

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
  create(input: { name: string; visibility?: Visibility; config: unknown; id?: string }): NitroRepository;
  updateConfig(id: string, config: unknown): NitroRepository;
  setVisibility(id: string, visibility: Visibility): NitroRepository;
  delete(id: string): boolean;
  /** True when `imageName` belongs to `repo` (the longest-prefix rule, default repository included). */
  owns(repo: NitroRepository, imageName: string): boolean;
  /** The subset of `allNames` that belongs to repository `id` (or name) — for GC and statistics. */
  imageNamesOf(id: string, allNames: Iterable<string>): string[];
  /** Bumped on every change; caches keyed on it are invalidated by rule edits. */
  readonly version: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS nitro_repositories (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  visibility  TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
  config      TEXT NOT NULL,
  source      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);`;

interface Row {
  id: string;
  name: string;
  visibility: Visibility;
  config: string;
  source: NitroRepository['source'];
  created_at: number;
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

/**
 * Opens the store and applies the `repositories:` section of the config file: a list of
 * `{name, id?, visibility?, config?}`. A declaration named `default` configures the default repository.
 */
export function openRepositories(db: Database.Database, declared: unknown): NitroRepositories {
  db.exec(SCHEMA);
  let cache: NitroRepository[] = [];
  let version = 0;

  const toRepo = (r: Row): NitroRepository => ({
    id: r.id,
    name: r.name,
    visibility: r.visibility,
    config: parseRepositoryConfig(JSON.parse(r.config)),
    source: r.source,
    createdAt: r.created_at,
  });
  const reload = () => {
    const rows = db.prepare('SELECT * FROM nitro_repositories ORDER BY name').all() as Row[];
    cache = rows.map(toRepo);
    version++;
  };

  const insert = db.prepare(
    'INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES (@id, @name, @visibility, @config, @source, @created_at)',
  );

  // Declarations from the config file, validated before anything is written.
  const decls = declared === undefined || declared === null ? [] : declared;
  if (!Array.isArray(decls)) throw new RepositoryConfigError('repositories must be a list');
  const parsed = decls.map((d, i) => {
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
        config: parseRepositoryConfig(d.config ?? { type: 'Hosted' }),
      };
    } catch (e) {
      throw new RepositoryConfigError(`repositories[${i}]: ${(e as Error).message}`);
    }
  });

  db.transaction(() => {
    for (const d of parsed) {
      const existing = db.prepare('SELECT id FROM nitro_repositories WHERE name = ?').get(d.name) as { id: string } | undefined;
      if (existing && existing.id !== d.id) db.prepare('DELETE FROM nitro_repositories WHERE name = ?').run(d.name);
      db.prepare(
        `INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES (?, ?, ?, ?, 'config', ?)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, visibility = excluded.visibility, config = excluded.config, source = 'config'`,
      ).run(d.id, d.name, d.visibility, JSON.stringify(d.config), Date.now());
    }
    const hasDefault = db.prepare('SELECT 1 FROM nitro_repositories WHERE name = ?').get(DEFAULT_REPOSITORY_NAME);
    if (!hasDefault) {
      insert.run({
        id: DEFAULT_REPOSITORY_NAME,
        name: DEFAULT_REPOSITORY_NAME,
        visibility: 'public',
        config: JSON.stringify({ type: 'Hosted' }),
        source: 'builtin',
        created_at: Date.now(),
      });
    }
  })();
  reload();

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
    rules: (repo) => effectiveRules(repo.config),
    create(input) {
      const name = checkName(input.name);
      const id = input.id === undefined ? randomUUID() : checkId(input.id);
      const config = parseRepositoryConfig(input.config ?? { type: 'Hosted' });
      const visibility = input.visibility === undefined ? 'private' : checkVisibility(input.visibility);
      if (cache.some((r) => r.name === name)) throw new RepositoryConflictError(`a repository named ${name} already exists`);
      if (byId(id)) throw new RepositoryConflictError(`a repository with id ${id} already exists`);
      insert.run({ id, name, visibility, config: JSON.stringify(config), source: 'api', created_at: Date.now() });
      reload();
      return byId(id)!;
    },
    updateConfig(id, raw) {
      const repo = mustGet(id);
      const config = parseRepositoryConfig(raw);
      db.prepare('UPDATE nitro_repositories SET config = ? WHERE id = ?').run(JSON.stringify(config), repo.id);
      reload();
      return byId(repo.id)!;
    },
    setVisibility(id, v) {
      const repo = mustGet(id);
      db.prepare('UPDATE nitro_repositories SET visibility = ? WHERE id = ?').run(checkVisibility(v), repo.id);
      reload();
      return byId(repo.id)!;
    },
    delete(id) {
      const repo = byId(id);
      if (!repo) return false;
      if (repo.name === DEFAULT_REPOSITORY_NAME) throw new RepositoryConflictError('the default repository cannot be deleted');
      db.prepare('DELETE FROM nitro_repositories WHERE id = ?').run(repo.id);
      reload();
      return true;
    },
    owns: (repo, imageName) => forImage(imageName).id === repo.id,
    imageNamesOf(id, allNames) {
      const repo = byId(id) ?? cache.find((r) => r.name === id) ?? null;
      const out: string[] = [];
      if (!repo) return out;
      for (const n of allNames) if (forImage(n).id === repo.id) out.push(n);
      return out;
    },
  };
}
