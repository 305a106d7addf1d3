/**
 * Accounts as stored: users, personal access tokens, project members and OAuth2 refresh tokens. Data
 * access only — validation, password hashing and the rules live in auth/accounts.ts. Implementations:
 * sqlite/account-store.ts, postgres/account-store.ts (every replica sees the same accounts at once).
 * Secrets are never stored: passwords as scrypt hashes, tokens as sha256 of the secret.
 */
export type Role = 'read' | 'write' | 'admin';

export interface UserRecord {
  readonly username: string;
  /** scrypt hash, or null for a robot account (access tokens only). */
  readonly passwordHash: string | null;
  readonly admin: boolean;
  readonly createdAt: number;
}

export interface TokenRecord {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  readonly tokenHash: string;
  /** Scope strings (`repository:name:pull,push`), or null: everything the user may do. */
  readonly scopes: readonly string[] | null;
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

export interface AccountStore {
  getUser(username: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  /** False when the user exists. */
  insertUser(u: UserRecord): Promise<boolean>;
  /** Sets the password hash; false when there is no such user. */
  setPasswordHash(username: string, hash: string): Promise<boolean>;
  setAdmin(username: string, admin: boolean): Promise<boolean>;
  /** Deletes the user with their tokens, refresh tokens and memberships, in one transaction. */
  deleteUser(username: string): Promise<boolean>;

  /** Inserts a token; returns its id, or null when the user already has a token with that name. */
  insertToken(t: Omit<TokenRecord, 'id' | 'lastUsedAt'>): Promise<number | null>;
  tokenById(id: number): Promise<TokenRecord | null>;
  tokenByHash(tokenHash: string): Promise<TokenRecord | null>;
  listTokens(username: string): Promise<TokenRecord[]>;
  /** Deletes the token and the refresh tokens issued from it. */
  deleteToken(username: string, name: string): Promise<boolean>;
  /** Records a use (best effort, may be coalesced). */
  touchToken(id: number, at: number): Promise<void>;

  /** Sets (or, with role null, removes) a membership. */
  setMember(project: string, username: string, role: Role | null): Promise<void>;
  removeMember(project: string, username: string): Promise<boolean>;
  roleIn(project: string, username: string): Promise<Role | null>;
  /** Every project the user is a member of, with the role (read once per request by the authorizer). */
  memberships(username: string): Promise<Map<string, Role>>;
  members(project: string): Promise<{ username: string; role: Role }[]>;

  insertRefreshToken(tokenHash: string, rec: RefreshTokenRecord): Promise<void>;
  refreshTokenByHash(tokenHash: string): Promise<RefreshTokenRecord | null>;
  deleteRefreshTokens(username: string): Promise<void>;
  deleteExpiredRefreshTokens(now: number): Promise<void>;
}
