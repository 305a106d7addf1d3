/** AccountStore on PostgreSQL (tables auth_*): every replica sees a user, token or membership at once. */
import type { AccountStore, RefreshTokenRecord, Role, TokenRecord, UserRecord } from '../account-store.js';
import { toRefreshToken, toToken, toUser, type RefreshTokenRow, type TokenRow, type UserRow } from '../rows.js';
import type { Db } from './database.js';

const changed = (r: { rowCount: number | null }) => (r.rowCount ?? 0) > 0;

export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  async getUser(username: string): Promise<UserRecord | null> {
    const r = await this.db.query<UserRow>('SELECT * FROM auth_users WHERE username = $1', [username]);
    return r.rows[0] ? toUser(r.rows[0]) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.query<UserRow>('SELECT * FROM auth_users ORDER BY username')).rows.map(toUser);
  }

  async insertUser(u: UserRecord): Promise<boolean> {
    return changed(
      await this.db.query('INSERT INTO auth_users (username, password_hash, admin, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        u.username,
        u.passwordHash,
        u.admin,
        u.createdAt,
      ]),
    );
  }

  async setPasswordHash(username: string, hash: string): Promise<boolean> {
    return changed(await this.db.query('UPDATE auth_users SET password_hash = $1 WHERE username = $2', [hash, username]));
  }

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    return changed(await this.db.query('UPDATE auth_users SET admin = $1 WHERE username = $2', [admin, username]));
  }

  async deleteUser(username: string): Promise<boolean> {
    // Tokens, refresh tokens and memberships go with the user (ON DELETE CASCADE), in this one statement.
    return changed(await this.db.query('DELETE FROM auth_users WHERE username = $1', [username]));
  }

  async insertToken(t: Omit<TokenRecord, 'id' | 'lastUsedAt'>): Promise<number | null> {
    const r = await this.db.query<{ id: number }>(
      `INSERT INTO auth_tokens (username, name, token_hash, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING id`,
      [t.username, t.name, t.tokenHash, t.scopes === null ? null : JSON.stringify(t.scopes), t.expiresAt, t.createdAt],
    );
    return r.rows[0]?.id ?? null;
  }

  async tokenById(id: number): Promise<TokenRecord | null> {
    const r = await this.db.query<TokenRow>('SELECT * FROM auth_tokens WHERE id = $1', [id]);
    return r.rows[0] ? toToken(r.rows[0]) : null;
  }

  async tokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const r = await this.db.query<TokenRow>('SELECT * FROM auth_tokens WHERE token_hash = $1', [tokenHash]);
    return r.rows[0] ? toToken(r.rows[0]) : null;
  }

  async listTokens(username: string): Promise<TokenRecord[]> {
    return (await this.db.query<TokenRow>('SELECT * FROM auth_tokens WHERE username = $1 ORDER BY name', [username])).rows.map(toToken);
  }

  async deleteToken(username: string, name: string): Promise<boolean> {
    // Refresh tokens issued from it go with it (ON DELETE CASCADE).
    return changed(await this.db.query('DELETE FROM auth_tokens WHERE username = $1 AND name = $2', [username, name]));
  }

  async touchToken(id: number, at: number): Promise<void> {
    await this.db.query('UPDATE auth_tokens SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async setMember(project: string, username: string, role: Role | null): Promise<void> {
    if (role === null) await this.removeMember(project, username);
    else {
      await this.db.query(
        'INSERT INTO auth_members (project, username, role) VALUES ($1, $2, $3) ON CONFLICT (project, username) DO UPDATE SET role = EXCLUDED.role',
        [project, username, role],
      );
    }
  }

  async removeMember(project: string, username: string): Promise<boolean> {
    return changed(await this.db.query('DELETE FROM auth_members WHERE project = $1 AND username = $2', [project, username]));
  }

  async roleIn(project: string, username: string): Promise<Role | null> {
    const r = await this.db.query<{ role: Role }>('SELECT role FROM auth_members WHERE project = $1 AND username = $2', [project, username]);
    return r.rows[0]?.role ?? null;
  }

  async memberships(username: string): Promise<Map<string, Role>> {
    const r = await this.db.query<{ project: string; role: Role }>('SELECT project, role FROM auth_members WHERE username = $1', [username]);
    return new Map(r.rows.map((x) => [x.project, x.role]));
  }

  async members(project: string): Promise<{ username: string; role: Role }[]> {
    return (await this.db.query<{ username: string; role: Role }>('SELECT username, role FROM auth_members WHERE project = $1 ORDER BY username', [project])).rows;
  }

  async insertRefreshToken(tokenHash: string, rec: RefreshTokenRecord): Promise<void> {
    await this.db.query('INSERT INTO auth_refresh_tokens (token_hash, username, method, token_id, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      tokenHash,
      rec.username,
      rec.method,
      rec.tokenId,
      rec.expiresAt,
    ]);
  }

  async refreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const r = await this.db.query<RefreshTokenRow>('SELECT * FROM auth_refresh_tokens WHERE token_hash = $1', [tokenHash]);
    return r.rows[0] ? toRefreshToken(r.rows[0]) : null;
  }

  async deleteRefreshTokens(username: string): Promise<void> {
    await this.db.query('DELETE FROM auth_refresh_tokens WHERE username = $1', [username]);
  }

  async deleteExpiredRefreshTokens(now: number): Promise<void> {
    await this.db.query('DELETE FROM auth_refresh_tokens WHERE expires_at <= $1', [now]);
  }
}
