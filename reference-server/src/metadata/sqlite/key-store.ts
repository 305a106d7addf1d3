/** KeyStore on the embedded SQLite database (table auth_signing_keys). */
import type { KeyStore, SigningKeyRow } from '../key-store.js';
import { toSigningKey, type SigningKeySqlRow } from '../rows.js';
import type { DB } from './database.js';

export class SqliteKeyStore implements KeyStore {
  private readonly q;

  constructor(private readonly db: DB) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      list: p('SELECT * FROM auth_signing_keys ORDER BY created_at DESC, kid'),
      active: p('SELECT * FROM auth_signing_keys WHERE active = 1'),
      deactivate: p('UPDATE auth_signing_keys SET active = 0 WHERE active = 1'),
      insert: p(
        'INSERT INTO auth_signing_keys (kid, alg, private_pem, created_at, active, retired_at) VALUES (?, ?, ?, ?, 1, NULL) ON CONFLICT(kid) DO UPDATE SET active = 1, retired_at = NULL',
      ),
      retire: p('UPDATE auth_signing_keys SET retired_at = ? WHERE kid = ? AND active = 0 AND retired_at IS NULL'),
    };
  }

  async list(): Promise<SigningKeyRow[]> {
    return (this.q.list.all() as SigningKeySqlRow[]).map(toSigningKey);
  }

  async add(row: SigningKeyRow, opts: { onlyIfNone: boolean }): Promise<SigningKeyRow> {
    return this.db.transaction(() => {
      const current = this.q.active.get() as SigningKeySqlRow | undefined;
      if (current && opts.onlyIfNone) return toSigningKey(current);
      this.q.deactivate.run();
      this.q.insert.run(row.kid, row.alg, row.privatePem, row.createdAt);
      return toSigningKey(this.q.active.get() as SigningKeySqlRow);
    })();
  }

  async retire(kid: string, at: number): Promise<boolean> {
    return this.q.retire.run(at, kid).changes > 0;
  }
}
