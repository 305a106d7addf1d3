/**
 * RepositoryStore on PostgreSQL (table nitro_repositories). Every write bumps meta_versions in its own
 * transaction; replicas poll version() to learn that their in-memory copy is out of date.
 */
import type { InsertRepositoryResult, RepositoryRow, RepositoryStore, Visibility } from '../repository-store.js';
import { toRepository, type RepositorySqlRow } from '../rows.js';
import { constraintOf, isUniqueViolation, type Db, type Queryable } from './database.js';

const INSERT = 'INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES ($1, $2, $3, $4, $5, $6)';
const params = (r: RepositoryRow) => [r.id, r.name, r.visibility, r.config, r.source, r.createdAt];
const BUMP = "UPDATE meta_versions SET version = version + 1 WHERE name = 'nitro_repositories'";

export class PostgresRepositoryStore implements RepositoryStore {
  constructor(private readonly db: Db) {}

  private write<T>(fn: (c: Queryable) => Promise<T>): Promise<T> {
    return this.db.tx(async (c) => {
      const r = await fn(c);
      await c.query(BUMP);
      return r;
    });
  }

  async list(): Promise<RepositoryRow[]> {
    return (await this.db.query<RepositorySqlRow>('SELECT * FROM nitro_repositories ORDER BY name')).rows.map(toRepository);
  }

  async insert(row: RepositoryRow): Promise<InsertRepositoryResult> {
    try {
      return await this.write(async (c): Promise<InsertRepositoryResult> => {
        await c.query(INSERT, params(row));
        return 'ok';
      });
    } catch (e) {
      // The unique constraints decide, so two replicas inserting one name at once get one 'ok'.
      if (!isUniqueViolation(e)) throw e;
      return constraintOf(e) === 'nitro_repositories_name_key' ? 'name-taken' : 'id-taken';
    }
  }

  async update(id: string, fields: { config?: string; visibility?: Visibility }): Promise<boolean> {
    return this.write(async (c) => {
      const r = await c.query('UPDATE nitro_repositories SET config = COALESCE($2, config), visibility = COALESCE($3, visibility) WHERE id = $1', [
        id,
        fields.config ?? null,
        fields.visibility ?? null,
      ]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.write(async (c) => ((await c.query('DELETE FROM nitro_repositories WHERE id = $1', [id])).rowCount ?? 0) > 0);
  }

  async applyDeclared(declared: readonly RepositoryRow[], ensure: readonly RepositoryRow[]): Promise<void> {
    await this.write(async (c) => {
      // Replicas starting together apply the same declarations: one at a time (the version row's lock).
      await c.query("SELECT 1 FROM meta_versions WHERE name = 'nitro_repositories' FOR UPDATE");
      for (const d of declared) {
        await c.query('DELETE FROM nitro_repositories WHERE name = $1 AND id <> $2', [d.name, d.id]);
        await c.query(
          `INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES ($1, $2, $3, $4, 'config', $5)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, visibility = EXCLUDED.visibility, config = EXCLUDED.config, source = 'config'`,
          [d.id, d.name, d.visibility, d.config, d.createdAt],
        );
      }
      for (const e of ensure) {
        await c.query(`${INSERT} ON CONFLICT DO NOTHING`, params(e));
      }
    });
  }

  async version(): Promise<number> {
    return (await this.db.query<{ version: number }>("SELECT version FROM meta_versions WHERE name = 'nitro_repositories'")).rows[0]!.version;
  }
}
