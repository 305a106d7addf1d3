/** AccountStore on the embedded SQLite database (tables auth_* in database.ts). */
import type { AccountStore, RefreshTokenRecord, Role, TokenRecord, UserRecord } from '../account-store.js';
import { toRefreshToken, toToken, toUser, type RefreshTokenRow, type TokenRow, type UserRow } from '../rows.js';
import type { DB } from './database.js';

export class SqliteAccountStore implements AccountStore {
  private readonly q;

  constructor(private readonly db: DB) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      getUser: p('SELECT * FROM auth_users WHERE username = ?'),
      listUsers: p('SELECT * FROM auth_users ORDER BY username'),
      insertUser: p('INSERT INTO auth_users (username, password_hash, admin, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      setPassword: p('UPDATE auth_users SET password_hash = ? WHERE username = ?'),
      setAdmin: p('UPDATE auth_users SET admin = ? WHERE username = ?'),
      deleteUser: p('DELETE FROM auth_users WHERE username = ?'),
      deleteUserRefresh: p('DELETE FROM auth_refresh_tokens WHERE username = ?'),
      deleteUserTokens: p('DELETE FROM auth_tokens WHERE username = ?'),
      deleteUserMembers: p('DELETE FROM auth_members WHERE username = ?'),
      insertToken: p(
        'INSERT INTO auth_tokens (username, name, token_hash, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      tokenById: p('SELECT * FROM auth_tokens WHERE id = ?'),
      tokenByHash: p('SELECT * FROM auth_tokens WHERE token_hash = ?'),
      listTokens: p('SELECT * FROM auth_tokens WHERE username = ? ORDER BY name'),
      tokenId: p('SELECT id FROM auth_tokens WHERE username = ? AND name = ?').pluck(),
      deleteTokenRefresh: p('DELETE FROM auth_refresh_tokens WHERE token_id = ?'),
      deleteToken: p('DELETE FROM auth_tokens WHERE id = ?'),
      touchToken: p('UPDATE auth_tokens SET last_used_at = ? WHERE id = ?'),
      setMember: p('INSERT INTO auth_members (project, username, role) VALUES (?, ?, ?) ON CONFLICT (project, username) DO UPDATE SET role = excluded.role'),
      removeMember: p('DELETE FROM auth_members WHERE project = ? AND username = ?'),
      roleIn: p('SELECT role FROM auth_members WHERE project = ? AND username = ?').pluck(),
      members: p('SELECT username, role FROM auth_members WHERE project = ? ORDER BY username'),
      memberships: p('SELECT project, role FROM auth_members WHERE username = ?'),
      insertRefresh: p('INSERT INTO auth_refresh_tokens (token_hash, username, method, token_id, expires_at) VALUES (?, ?, ?, ?, ?)'),
      refreshByHash: p('SELECT * FROM auth_refresh_tokens WHERE token_hash = ?'),
      deleteRefreshOf: p('DELETE FROM auth_refresh_tokens WHERE username = ?'),
      deleteExpiredRefresh: p('DELETE FROM auth_refresh_tokens WHERE expires_at <= ?'),
    };
  }

  async getUser(username: string): Promise<UserRecord | null> {
    const r = this.q.getUser.get(username) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.q.listUsers.all() as UserRow[]).map(toUser);
  }

  async insertUser(u: UserRecord): Promise<boolean> {
    return this.q.insertUser.run(u.username, u.passwordHash, u.admin ? 1 : 0, u.createdAt).changes > 0;
  }

  async setPasswordHash(username: string, hash: string): Promise<boolean> {
    return this.q.setPassword.run(hash, username).changes > 0;
  }

  async setAdmin(username: string, admin: boolean): Promise<boolean> {
    return this.q.setAdmin.run(admin ? 1 : 0, username).changes > 0;
  }

  async deleteUser(username: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.q.deleteUserRefresh.run(username);
      this.q.deleteUserTokens.run(username);
      this.q.deleteUserMembers.run(username);
      return this.q.deleteUser.run(username).changes > 0;
    })();
  }

  async insertToken(t: Omit<TokenRecord, 'id' | 'lastUsedAt'>): Promise<number | null> {
    const res = this.q.insertToken.run(t.username, t.name, t.tokenHash, t.scopes === null ? null : JSON.stringify(t.scopes), t.expiresAt, t.createdAt);
    return res.changes === 0 ? null : Number(res.lastInsertRowid);
  }

  async tokenById(id: number): Promise<TokenRecord | null> {
    const r = this.q.tokenById.get(id) as TokenRow | undefined;
    return r ? toToken(r) : null;
  }

  async tokenByHash(tokenHash: string): Promise<TokenRecord | null> {
    const r = this.q.tokenByHash.get(tokenHash) as TokenRow | undefined;
    return r ? toToken(r) : null;
  }

  async listTokens(username: string): Promise<TokenRecord[]> {
    return (this.q.listTokens.all(username) as TokenRow[]).map(toToken);
  }

  async deleteToken(username: string, name: string): Promise<boolean> {
    return this.db.transaction(() => {
      const id = this.q.tokenId.get(username, name) as number | undefined;
      if (id === undefined) return false;
      this.q.deleteTokenRefresh.run(id);
      this.q.deleteToken.run(id);
      return true;
    })();
  }

  async touchToken(id: number, at: number): Promise<void> {
    this.q.touchToken.run(at, id);
  }

  async setMember(project: string, username: string, role: Role | null): Promise<void> {
    if (role === null) this.q.removeMember.run(project, username);
    else this.q.setMember.run(project, username, role);
  }

  async removeMember(project: string, username: string): Promise<boolean> {
    return this.q.removeMember.run(project, username).changes > 0;
  }

  async roleIn(project: string, username: string): Promise<Role | null> {
    return (this.q.roleIn.get(project, username) as Role | undefined) ?? null;
  }

  async memberships(username: string): Promise<Map<string, Role>> {
    return new Map((this.q.memberships.all(username) as { project: string; role: Role }[]).map((r) => [r.project, r.role]));
  }

  async members(project: string): Promise<{ username: string; role: Role }[]> {
    return this.q.members.all(project) as { username: string; role: Role }[];
  }

  async insertRefreshToken(tokenHash: string, rec: RefreshTokenRecord): Promise<void> {
    this.q.insertRefresh.run(tokenHash, rec.username, rec.method, rec.tokenId, rec.expiresAt);
  }

  async refreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const r = this.q.refreshByHash.get(tokenHash) as RefreshTokenRow | undefined;
    return r ? toRefreshToken(r) : null;
  }

  async deleteRefreshTokens(username: string): Promise<void> {
    this.q.deleteRefreshOf.run(username);
  }

  async deleteExpiredRefreshTokens(now: number): Promise<void> {
    this.q.deleteExpiredRefresh.run(now);
  }
}
