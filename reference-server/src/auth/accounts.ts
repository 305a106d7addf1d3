/**
 * Accounts on SQLite (tables auth_*): users (scrypt password hash, admin flag), personal access tokens
 * (named, scoped, expiring, revocable; only their sha256 is stored and the secret is shown once),
 * project members with roles, and OAuth2 refresh tokens (stored hashed too).
 *
 * A "robot account" is a user without a password: it can only authenticate with its access tokens.
 */
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { hashPassword, newSecret, sha256Hex, verifyPassword, dummyHash } from './passwords.js';
import { parseScope, type Scope } from './scopes.js';

export type Role = 'read' | 'write' | 'admin';
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];
export const roleRank = (r: Role | null): number => (r === null ? 0 : ROLES.indexOf(r) + 1);

export const ACCESS_TOKEN_PREFIX = 'nrt_';
export const REFRESH_TOKEN_PREFIX = 'nrr_';

export interface User {
  readonly username: string;
  readonly admin: boolean;
  readonly hasPassword: boolean;
  readonly createdAt: number;
}

export interface AccessToken {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  /** null: everything the user may do. */
  readonly scopes: Scope[] | null;
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface RefreshTokenRecord {
  readonly username: string;
  readonly method: 'password' | 'access-token';
  readonly tokenId: number | null;
  readonly expiresAt: number;
}

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    message: string,
    readonly kind: 'invalid' | 'conflict' | 'not_found',
  ) {
    super(message);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS auth_users (
  username      TEXT PRIMARY KEY,
  password_hash TEXT,
  admin         INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_tokens (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  token_hash    TEXT NOT NULL UNIQUE,
  scopes        TEXT,
  expires_at    INTEGER,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  UNIQUE (username, name)
);
CREATE TABLE IF NOT EXISTS auth_members (
  project   TEXT NOT NULL,
  username  TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  PRIMARY KEY (project, username)
);
CREATE TABLE IF NOT EXISTS auth_refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  username    TEXT NOT NULL REFERENCES auth_users(username) ON DELETE CASCADE,
  method      TEXT NOT NULL,
  token_id    INTEGER REFERENCES auth_tokens(id) ON DELETE CASCADE,
  expires_at  INTEGER NOT NULL
);`;

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PROJECT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

export interface UserRow {
  username: string;
  password_hash: string | null;
  admin: number;
  created_at: number;
}
interface TokenRow {
  id: number;
  username: string;
  name: string;
  token_hash: string;
  scopes: string | null;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
}

const toUser = (r: UserRow): User => ({ username: r.username, admin: r.admin === 1, hasPassword: r.password_hash !== null, createdAt: r.created_at });
const toToken = (r: TokenRow): AccessToken => ({
  id: r.id,
  username: r.username,
  name: r.name,
  scopes: r.scopes === null ? null : (JSON.parse(r.scopes) as string[]).map((s) => parseScope(s, true)!).filter(Boolean),
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export function validatePassword(p: unknown): string {
  if (typeof p !== 'string' || p.length < 8 || p.length > 1024) throw new AccountError('password must be 8 to 1024 characters', 'invalid');
  return p;
}

export const MAX_TOKEN_LIFETIME_SECONDS = 10 * 366 * 24 * 3600;

export class Accounts {
  /** Recently verified passwords: key (see checkPassword) → valid until (ms). */
  private readonly verified = new Map<string, number>();

  constructor(private readonly db: Database.Database) {
    // The connection is shared with the metadata store, whose pragmas we leave alone: deletes cascade
    // by hand (deleteUser, revokeToken) rather than through foreign_keys=ON.
    db.exec(SCHEMA);
  }

  // --- users -----------------------------------------------------------------------------------------
  getUser(username: string): User | null {
    const r = this.db.prepare('SELECT * FROM auth_users WHERE username = ?').get(username) as UserRow | undefined;
    return r ? toUser(r) : null;
  }

  listUsers(): User[] {
    return (this.db.prepare('SELECT * FROM auth_users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  /** password null: a robot account (access tokens only). */
  async createUser(username: unknown, password: string | null, admin = false): Promise<User> {
    if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
      throw new AccountError('username must be 1-64 lower-case letters, digits, ".", "_" or "-"', 'invalid');
    }
    const hash = password === null ? null : await hashPassword(validatePassword(password));
    const res = this.db
      .prepare('INSERT INTO auth_users (username, password_hash, admin, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(username, hash, admin ? 1 : 0, Date.now());
    if (res.changes === 0) throw new AccountError(`user ${username} already exists`, 'conflict');
    return this.getUser(username)!;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const hash = await hashPassword(validatePassword(password));
    const res = this.db.prepare('UPDATE auth_users SET password_hash = ? WHERE username = ?').run(hash, username);
    if (res.changes === 0) throw new AccountError(`no user ${username}`, 'not_found');
  }

  setAdmin(username: string, admin: boolean): void {
    const res = this.db.prepare('UPDATE auth_users SET admin = ? WHERE username = ?').run(admin ? 1 : 0, username);
    if (res.changes === 0) throw new AccountError(`no user ${username}`, 'not_found');
  }

  deleteUser(username: string): boolean {
    return this.db.transaction(() => {
      for (const table of ['auth_refresh_tokens', 'auth_tokens', 'auth_members']) {
        this.db.prepare(`DELETE FROM ${table} WHERE username = ?`).run(username);
      }
      return this.db.prepare('DELETE FROM auth_users WHERE username = ?').run(username).changes > 0;
    })();
  }

  /** The user when the password matches; null otherwise. Takes the same time for unknown users. */
  async checkPassword(username: string, password: string): Promise<User | null> {
    const r = this.db.prepare('SELECT * FROM auth_users WHERE username = ?').get(username) as UserRow | undefined;
    if (!r || r.password_hash === null) {
      await verifyPassword(password, await dummyHash());
      return null;
    }
    // Clients that send Basic on every request (skopeo with --creds, some CI tools) would otherwise pay a
    // ~50 ms scrypt per request. A success is remembered briefly, keyed by a hash of the password AND the
    // stored hash, so a password change or a deleted user invalidates it at once; failures are not cached.
    const key = createHash('sha256').update(`${username}\0${password}\0${r.password_hash}`).digest('base64');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return toUser(r);
    if (!(await verifyPassword(password, r.password_hash))) return null;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, Date.now() + 60_000);
    return toUser(r);
  }

  // --- access tokens -----------------------------------------------------------------------------------
  /** Creates a token; returns the secret (shown once) and its record. */
  createToken(username: string, name: unknown, scopes: unknown, expiresInSeconds: unknown): { secret: string; token: AccessToken } {
    if (!this.getUser(username)) throw new AccountError(`no user ${username}`, 'not_found');
    if (typeof name !== 'string' || !TOKEN_NAME_RE.test(name)) throw new AccountError('token name must be 1-64 letters, digits, ".", "_" or "-"', 'invalid');
    let scopeList: string[] | null = null;
    if (scopes !== undefined && scopes !== null) {
      const list = typeof scopes === 'string' ? scopes.split(' ').filter(Boolean) : scopes;
      if (!Array.isArray(list) || list.length === 0) throw new AccountError('scopes must be a non-empty list of scope strings', 'invalid');
      scopeList = list.map((s) => {
        const p = typeof s === 'string' ? parseScope(s, true) : null;
        if (!p) throw new AccountError(`invalid scope ${JSON.stringify(s)} (expected e.g. repository:my-project/app:pull,push)`, 'invalid');
        return `${p.type}:${p.name}:${p.actions.join(',')}`;
      });
    }
    let expiresAt: number | null = null;
    if (expiresInSeconds !== undefined && expiresInSeconds !== null) {
      // Ten years at most: beyond that a date no longer fits (and "never" is spelled by omitting expires_in).
      if (typeof expiresInSeconds !== 'number' || !Number.isInteger(expiresInSeconds) || expiresInSeconds <= 0 || expiresInSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
        throw new AccountError(`expires_in must be a whole number of seconds from 1 to ${MAX_TOKEN_LIFETIME_SECONDS}`, 'invalid');
      }
      expiresAt = Date.now() + expiresInSeconds * 1000;
    }
    const secret = newSecret(ACCESS_TOKEN_PREFIX);
    const res = this.db
      .prepare(
        'INSERT INTO auth_tokens (username, name, token_hash, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(username, name, sha256Hex(secret), scopeList === null ? null : JSON.stringify(scopeList), expiresAt, Date.now());
    if (res.changes === 0) throw new AccountError(`user ${username} already has a token named ${name}`, 'conflict');
    return { secret, token: this.tokenById(Number(res.lastInsertRowid))! };
  }

  tokenById(id: number): AccessToken | null {
    const r = this.db.prepare('SELECT * FROM auth_tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return r ? toToken(r) : null;
  }

  /** A valid (known, unexpired) token by id, as used when re-checking a JWT minted from it. */
  liveToken(id: number, now = Date.now()): AccessToken | null {
    const t = this.tokenById(id);
    return t && (t.expiresAt === null || t.expiresAt > now) ? t : null;
  }

  listTokens(username: string): AccessToken[] {
    return (this.db.prepare('SELECT * FROM auth_tokens WHERE username = ? ORDER BY name').all(username) as TokenRow[]).map(toToken);
  }

  revokeToken(username: string, name: string): boolean {
    return this.db.transaction(() => {
      const t = this.db.prepare('SELECT id FROM auth_tokens WHERE username = ? AND name = ?').get(username, name) as { id: number } | undefined;
      if (!t) return false;
      this.db.prepare('DELETE FROM auth_refresh_tokens WHERE token_id = ?').run(t.id);
      this.db.prepare('DELETE FROM auth_tokens WHERE id = ?').run(t.id);
      return true;
    })();
  }

  /**
   * Looks a presented secret up by its sha256 (an index lookup on a hash of 256 random bits leaks
   * nothing useful by timing). `username`, when given, must own the token.
   */
  checkToken(secret: string, username: string | null, now = Date.now()): AccessToken | null {
    if (!secret.startsWith(ACCESS_TOKEN_PREFIX)) return null;
    const r = this.db.prepare('SELECT * FROM auth_tokens WHERE token_hash = ?').get(sha256Hex(secret)) as TokenRow | undefined;
    if (!r) return null;
    if (username !== null && r.username !== username) return null;
    if (r.expires_at !== null && r.expires_at <= now) return null;
    this.db.prepare('UPDATE auth_tokens SET last_used_at = ? WHERE id = ?').run(now, r.id);
    return toToken(r);
  }

  // --- projects ----------------------------------------------------------------------------------------
  setMember(project: string, username: string, role: unknown): void {
    if (!PROJECT_RE.test(project)) throw new AccountError('invalid project name', 'invalid');
    if (role === null) {
      this.db.prepare('DELETE FROM auth_members WHERE project = ? AND username = ?').run(project, username);
      return;
    }
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new AccountError('role must be read, write or admin', 'invalid');
    if (!this.getUser(username)) throw new AccountError(`no user ${username}`, 'not_found');
    this.db
      .prepare('INSERT INTO auth_members (project, username, role) VALUES (?, ?, ?) ON CONFLICT (project, username) DO UPDATE SET role = excluded.role')
      .run(project, username, role);
  }

  removeMember(project: string, username: string): boolean {
    return this.db.prepare('DELETE FROM auth_members WHERE project = ? AND username = ?').run(project, username).changes > 0;
  }

  roleIn(project: string, username: string): Role | null {
    const r = this.db.prepare('SELECT role FROM auth_members WHERE project = ? AND username = ?').get(project, username) as { role: Role } | undefined;
    return r?.role ?? null;
  }

  members(project: string): { username: string; role: Role }[] {
    return this.db.prepare('SELECT username, role FROM auth_members WHERE project = ? ORDER BY username').all(project) as { username: string; role: Role }[];
  }

  // --- refresh tokens ----------------------------------------------------------------------------------
  createRefreshToken(rec: RefreshTokenRecord): string {
    const secret = newSecret(REFRESH_TOKEN_PREFIX);
    this.db
      .prepare('INSERT INTO auth_refresh_tokens (token_hash, username, method, token_id, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(sha256Hex(secret), rec.username, rec.method, rec.tokenId, rec.expiresAt);
    this.db.prepare('DELETE FROM auth_refresh_tokens WHERE expires_at <= ?').run(Date.now());
    return secret;
  }

  checkRefreshToken(secret: string, now = Date.now()): RefreshTokenRecord | null {
    if (!secret.startsWith(REFRESH_TOKEN_PREFIX)) return null;
    const r = this.db.prepare('SELECT * FROM auth_refresh_tokens WHERE token_hash = ?').get(sha256Hex(secret)) as
      | { username: string; method: 'password' | 'access-token'; token_id: number | null; expires_at: number }
      | undefined;
    if (!r || r.expires_at <= now) return null;
    return { username: r.username, method: r.method, tokenId: r.token_id, expiresAt: r.expires_at };
  }

  /** Refresh tokens die with the password they came from. */
  revokeRefreshTokens(username: string): void {
    this.db.prepare('DELETE FROM auth_refresh_tokens WHERE username = ?').run(username);
  }
}
