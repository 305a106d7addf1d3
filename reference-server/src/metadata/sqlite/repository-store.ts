/** RepositoryStore on the embedded SQLite database (table nitro_repositories; version in meta_versions). */
import type { InsertRepositoryResult, RepositoryRow, RepositoryStore, Visibility } from '../repository-store.js';
import { toRepository, type RepositorySqlRow } from '../rows.js';
import type { DB } from './database.js';

export class SqliteRepositoryStore implements RepositoryStore {
  private readonly q;

  constructor(private readonly db: DB) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      list: p('SELECT * FROM nitro_repositories ORDER BY name'),
      byName: p('SELECT id FROM nitro_repositories WHERE name = ?').pluck(),
      byId: p('SELECT name FROM nitro_repositories WHERE id = ?').pluck(),
      insert: p(
        'INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES (@id, @name, @visibility, @config, @source, @createdAt)',
      ),
      upsertDeclared: p(
        `INSERT INTO nitro_repositories (id, name, visibility, config, source, created_at) VALUES (@id, @name, @visibility, @config, 'config', @createdAt)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, visibility = excluded.visibility, config = excluded.config, source = 'config'`,
      ),
      deleteByName: p('DELETE FROM nitro_repositories WHERE name = ?'),
      setConfig: p('UPDATE nitro_repositories SET config = ? WHERE id = ?'),
      setVisibility: p('UPDATE nitro_repositories SET visibility = ? WHERE id = ?'),
      delete: p('DELETE FROM nitro_repositories WHERE id = ?'),
      bump: p("UPDATE meta_versions SET version = version + 1 WHERE name = 'nitro_repositories'"),
      version: p("SELECT version FROM meta_versions WHERE name = 'nitro_repositories'").pluck(),
    };
  }

  private write<T>(fn: () => T): T {
    return this.db.transaction(() => {
      const r = fn();
      this.q.bump.run();
      return r;
    })();
  }

  async list(): Promise<RepositoryRow[]> {
    return (this.q.list.all() as RepositorySqlRow[]).map(toRepository);
  }

  async insert(row: RepositoryRow): Promise<InsertRepositoryResult> {
    return this.write((): InsertRepositoryResult => {
      if (this.q.byName.get(row.name) !== undefined) return 'name-taken';
      if (this.q.byId.get(row.id) !== undefined) return 'id-taken';
      this.q.insert.run(row);
      return 'ok';
    });
  }

  async update(id: string, fields: { config?: string; visibility?: Visibility }): Promise<boolean> {
    return this.write(() => {
      if (this.q.byId.get(id) === undefined) return false;
      if (fields.config !== undefined) this.q.setConfig.run(fields.config, id);
      if (fields.visibility !== undefined) this.q.setVisibility.run(fields.visibility, id);
      return true;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.write(() => this.q.delete.run(id).changes > 0);
  }

  async applyDeclared(declared: readonly RepositoryRow[], ensure: readonly RepositoryRow[]): Promise<void> {
    this.write(() => {
      for (const d of declared) {
        const existing = this.q.byName.get(d.name) as string | undefined;
        if (existing !== undefined && existing !== d.id) this.q.deleteByName.run(d.name);
        this.q.upsertDeclared.run(d);
      }
      for (const e of ensure) if (this.q.byName.get(e.name) === undefined && this.q.byId.get(e.id) === undefined) this.q.insert.run(e);
    });
  }

  async version(): Promise<number> {
    return this.q.version.get() as number;
  }
}
