/**
 * Token signing keys as stored, so that every replica signs with the same active key and verifies what
 * any other issued. Rotation adds a key and makes it active; older keys keep verifying until retired
 * (JWKS lists every key not retired). Implementations: sqlite/key-store.ts, postgres/key-store.ts.
 * The private key is stored as PEM: protect the database as you would the key file.
 */
export interface SigningKeyRow {
  readonly kid: string;
  readonly alg: string;
  readonly privatePem: string;
  readonly createdAt: number;
  /** The key new tokens are signed with (exactly one at a time). */
  readonly active: boolean;
  readonly retiredAt: number | null;
}

export interface KeyStore {
  /** Every key, newest first. */
  list(): Promise<SigningKeyRow[]>;
  /**
   * Inserts `row` and makes it the only active key — unless `onlyIfNone` and an active key exists
   * (first start of several replicas at once: one key wins, the others read it). Returns the active key.
   */
  add(row: SigningKeyRow, opts: { onlyIfNone: boolean }): Promise<SigningKeyRow>;
  /** Retires a key (no longer verifies); the active key cannot be retired. False when unknown or active. */
  retire(kid: string, at: number): Promise<boolean>;
}
