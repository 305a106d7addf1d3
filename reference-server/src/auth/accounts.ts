/**
 * Accounts: users (scrypt password hash, admin flag), personal access tokens (named, scoped, expiring,
 * revocable; only their sha256 is stored and the secret is shown once), project members with roles, and
 * OAuth2 refresh tokens (stored hashed too). The rules and validation live here; the rows live in the
 * metadata backend's AccountStore (SQLite, or PostgreSQL shared by every replica).
 *
 * A "robot account" is a user without a password: it can only authenticate with its access tokens.
 */
import { createHash } from 'node:crypto';
import type { AccountStore, RefreshTokenRecord, Role, TokenRecord, UserRecord } from '../metadata/account-store.js';
import { hashPassword, newSecret, sha256Hex, verifyPassword, dummyHash } from './passwords.js';
import { parseScope, type Scope } from './scopes.js';
import { OIDC_USERNAME } from './oidc/exchange.js';

export type { Role, RefreshTokenRecord } from '../metadata/account-store.js';
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


export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    message: string,
    readonly kind: 'invalid' | 'conflict' | 'not_found',
  ) {
    super(message);
  }
}

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PROJECT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

const toUser = (r: UserRecord): User => ({ username: r.username, admin: r.admin, hasPassword: r.passwordHash !== null, createdAt: r.createdAt });
const toToken = (r: TokenRecord): AccessToken => ({
  id: r.id,
  username: r.username,
  name: r.name,
  scopes: r.scopes === null ? null : r.scopes.map((s) => parseScope(s, true)).filter((s): s is Scope => s !== null),
  expiresAt: r.expiresAt,
  createdAt: r.createdAt,
  lastUsedAt: r.lastUsedAt,
});

export function validatePassword(p: unknown): string {
  if (typeof p !== 'string' || p.length < 8 || p.length > 1024) throw new AccountError('password must be 8 to 1024 characters', 'invalid');
  return p;
}

export const MAX_TOKEN_LIFETIME_SECONDS = 10 * 366 * 24 * 3600;

export class Accounts {
  /** Recently verified passwords: key (see checkPassword) → valid until (ms). */
  private readonly verified = new Map<string, number>();

  /** `verify` is the scrypt check (injectable so tests can count how often it really runs). */
  constructor(
    private readonly store: AccountStore,
    private readonly verify: (password: string, stored: string) => Promise<boolean> = verifyPassword,
  ) {}

  // --- users -----------------------------------------------------------------------------------------
  async getUser(username: string): Promise<User | null> {
    const r = await this.store.getUser(username);
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<User[]> {
    return (await this.store.listUsers()).map(toUser);
  }

  /** password null: a robot account (access tokens only). */
  async createUser(username: unknown, password: string | null, admin = false): Promise<User> {
    if (typeof username !== 'string' || !USERNAME_RE.test(username)) {
      throw new AccountError('username must be 1-64 lower-case letters, digits, ".", "_" or "-"', 'invalid');
    }
    if (username === OIDC_USERNAME) throw new AccountError(`username "${OIDC_USERNAME}" is reserved: it logs CI jobs in with their OIDC token`, 'invalid');
    const passwordHash = password === null ? null : await hashPassword(validatePassword(password));
    if (!(await this.store.insertUser({ username, passwordHash, admin, createdAt: Date.now() }))) {
      throw new AccountError(`user ${username} already exists`, 'conflict');
    }
    return (await this.getUser(username))!;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const hash = await hashPassword(validatePassword(password));
    if (!(await this.store.setPasswordHash(username, hash))) throw new AccountError(`no user ${username}`, 'not_found');
  }

  async setAdmin(username: string, admin: boolean): Promise<void> {
    if (!(await this.store.setAdmin(username, admin))) throw new AccountError(`no user ${username}`, 'not_found');
  }

  deleteUser(username: string): Promise<boolean> {
    return this.store.deleteUser(username);
  }

  /** The user when the password matches; null otherwise. Takes the same time for unknown users. */
  async checkPassword(username: string, password: string): Promise<User | null> {
    const r = await this.store.getUser(username);
    if (!r || r.passwordHash === null) {
      await this.verify(password, await dummyHash());
      return null;
    }
    // Clients that send Basic on every request (skopeo with --creds, some CI tools) would otherwise pay a
    // ~50 ms scrypt per request. A success is remembered briefly, keyed by a hash of the password AND the
    // stored hash, so a password change or a deleted user invalidates it at once; failures are not cached.
    const key = createHash('sha256').update(`${username}\0${password}\0${r.passwordHash}`).digest('base64');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return toUser(r);
    if (!(await this.verify(password, r.passwordHash))) return null;
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, Date.now() + 60_000);
    return toUser(r);
  }

  // --- access tokens -----------------------------------------------------------------------------------
  /** Creates a token; returns the secret (shown once) and its record. */
  async createToken(username: string, name: unknown, scopes: unknown, expiresInSeconds: unknown): Promise<{ secret: string; token: AccessToken }> {
    if (!(await this.store.getUser(username))) throw new AccountError(`no user ${username}`, 'not_found');
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
    const id = await this.store.insertToken({ username, name, tokenHash: sha256Hex(secret), scopes: scopeList, expiresAt, createdAt: Date.now() });
    if (id === null) throw new AccountError(`user ${username} already has a token named ${name}`, 'conflict');
    return { secret, token: (await this.tokenById(id))! };
  }

  async tokenById(id: number): Promise<AccessToken | null> {
    const r = await this.store.tokenById(id);
    return r ? toToken(r) : null;
  }

  /** A valid (known, unexpired) token by id, as used when re-checking a JWT minted from it. */
  async liveToken(id: number, now = Date.now()): Promise<AccessToken | null> {
    const t = await this.tokenById(id);
    return t && (t.expiresAt === null || t.expiresAt > now) ? t : null;
  }

  async listTokens(username: string): Promise<AccessToken[]> {
    return (await this.store.listTokens(username)).map(toToken);
  }

  revokeToken(username: string, name: string): Promise<boolean> {
    return this.store.deleteToken(username, name);
  }

  /**
   * Looks a presented secret up by its sha256 (an index lookup on a hash of 256 random bits leaks
   * nothing useful by timing). `username`, when given, must own the token.
   */
  async checkToken(secret: string, username: string | null, now = Date.now()): Promise<AccessToken | null> {
    if (!secret.startsWith(ACCESS_TOKEN_PREFIX)) return null;
    const r = await this.store.tokenByHash(sha256Hex(secret));
    if (!r) return null;
    if (username !== null && r.username !== username) return null;
    if (r.expiresAt !== null && r.expiresAt <= now) return null;
    await this.store.touchToken(r.id, now);
    return toToken(r);
  }

  // --- projects ----------------------------------------------------------------------------------------
  async setMember(project: string, username: string, role: unknown): Promise<void> {
    if (!PROJECT_RE.test(project)) throw new AccountError('invalid project name', 'invalid');
    if (role === null) {
      await this.store.setMember(project, username, null);
      return;
    }
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new AccountError('role must be read, write or admin', 'invalid');
    if (!(await this.store.getUser(username))) throw new AccountError(`no user ${username}`, 'not_found');
    await this.store.setMember(project, username, role as Role);
  }

  removeMember(project: string, username: string): Promise<boolean> {
    return this.store.removeMember(project, username);
  }

  roleIn(project: string, username: string): Promise<Role | null> {
    return this.store.roleIn(project, username);
  }

  memberships(username: string): Promise<Map<string, Role>> {
    return this.store.memberships(username);
  }

  members(project: string): Promise<{ username: string; role: Role }[]> {
    return this.store.members(project);
  }

  // --- refresh tokens ----------------------------------------------------------------------------------
  async createRefreshToken(rec: RefreshTokenRecord): Promise<string> {
    const secret = newSecret(REFRESH_TOKEN_PREFIX);
    await this.store.insertRefreshToken(sha256Hex(secret), rec);
    await this.store.deleteExpiredRefreshTokens(Date.now());
    return secret;
  }

  async checkRefreshToken(secret: string, now = Date.now()): Promise<RefreshTokenRecord | null> {
    if (!secret.startsWith(REFRESH_TOKEN_PREFIX)) return null;
    const r = await this.store.refreshTokenByHash(sha256Hex(secret));
    if (!r || r.expiresAt <= now) return null;
    return r;
  }

  /** Refresh tokens die with the password they came from. */
  revokeRefreshTokens(username: string): Promise<void> {
    return this.store.deleteRefreshTokens(username);
  }
}
