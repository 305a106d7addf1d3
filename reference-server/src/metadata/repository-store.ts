/**
 * Nitro repositories as stored (repositories/store.ts keeps the rules and an in-memory copy for the hot
 * path). Implementations: sqlite/repository-store.ts, postgres/repository-store.ts. Replicas learn of
 * changes made elsewhere through `changes()`: every write bumps a version that readers compare cheaply.
 */
export type Visibility = 'public' | 'private';

export interface RepositoryRow {
  readonly id: string;
  readonly name: string;
  readonly visibility: Visibility;
  /** The repository document as JSON text (validated by repositories/config.ts). */
  readonly config: string;
  /** 'config': declared in the config file; 'api': created through /api/repository; 'builtin': the default. */
  readonly source: 'config' | 'api' | 'builtin';
  readonly createdAt: number;
}

export type InsertRepositoryResult = 'ok' | 'name-taken' | 'id-taken';

export interface RepositoryStore {
  list(): Promise<RepositoryRow[]>;
  insert(row: RepositoryRow): Promise<InsertRepositoryResult>;
  /** Updates config and/or visibility; false when there is no such id. */
  update(id: string, fields: { config?: string; visibility?: Visibility }): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /**
   * Applies the config file's declarations in one transaction: each replaces any repository of the same
   * name or id (source 'config'); then `ensure` rows are inserted when their name is absent.
   */
  applyDeclared(declared: readonly RepositoryRow[], ensure: readonly RepositoryRow[]): Promise<void>;
  /** A number that changes whenever any repository changes, on any replica. */
  version(): Promise<number>;
}
