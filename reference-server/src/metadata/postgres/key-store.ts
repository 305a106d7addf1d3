/** KeyStore on PostgreSQL (table auth_signing_keys): one active key for every replica. */
import type { KeyStore, SigningKeyRow } from '../key-store.js';
import { toSigningKey, type SigningKeySqlRow } from '../rows.js';
import { LOCK, type Db } from './database.js';

export class PostgresKeyStore implements KeyStore {
  constructor(private readonly db: Db) {}

  async list(): Promise<SigningKeyRow[]> {
    return (await this.db.query<SigningKeySqlRow>('SELECT * FROM auth_signing_keys ORDER BY created_at DESC, kid')).rows.map(toSigningKey);
  }

  async add(row: SigningKeyRow, opts: { onlyIfNone: boolean }): Promise<SigningKeyRow> {
    return this.db.tx(async (c) => {
      // Replicas starting at once with no key: one inserts, the others then read its key.
      await c.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK.keys]);
      const current = (await c.query<SigningKeySqlRow>('SELECT * FROM auth_signing_keys WHERE active')).rows[0];
      if (current && opts.onlyIfNone) return toSigningKey(current);
      await c.query('UPDATE auth_signing_keys SET active = false WHERE active');
      await c.query(
        `INSERT INTO auth_signing_keys (kid, alg, private_pem, created_at, active, retired_at) VALUES ($1, $2, $3, $4, true, NULL)
         ON CONFLICT (kid) DO UPDATE SET active = true, retired_at = NULL`,
        [row.kid, row.alg, row.privatePem, row.createdAt],
      );
      return toSigningKey((await c.query<SigningKeySqlRow>('SELECT * FROM auth_signing_keys WHERE active')).rows[0]!);
    });
  }

  async retire(kid: string, at: number): Promise<boolean> {
    const r = await this.db.query('UPDATE auth_signing_keys SET retired_at = $1 WHERE kid = $2 AND NOT active AND retired_at IS NULL', [at, kid]);
    return (r.rowCount ?? 0) > 0;
  }
}
