/**
 * Token signing keys. Either a configured PEM private key (EC P-256 → ES256, RSA → RS256: every replica
 * reads the same file), or keys kept in the metadata backend's KeyStore, so that every replica signs with
 * the same active key and accepts what any other issued. A key's id is the JWK thumbprint (RFC 7638) of
 * its public key.
 *
 * Rotation (`nitro-registry keys rotate`) adds a key and makes it active; tokens signed with older keys
 * keep verifying until those are retired (`keys retire KID`). Replicas pick a rotation up within
 * REFRESH_MS, and at once when they see a token with a kid they do not know.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { KeyStore, SigningKeyRow } from '../metadata/key-store.js';

export type SigningAlg = 'ES256' | 'RS256';

export interface SigningKey {
  readonly alg: SigningAlg;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK with kid, alg and use, as served in the JWKS. */
  readonly jwk: JWK;
}

const REFRESH_MS = 60_000;
/** Unknown kids trigger a reload at most this often (a flood of forged kids must not hammer the database). */
const UNKNOWN_KID_RELOAD_MS = 2_000;

function algFor(key: KeyObject): SigningAlg {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return 'RS256';
  throw new Error('the token signing key must be an EC P-256 or RSA (≥ 2048 bit) private key');
}

export async function signingKeyFromPem(pem: string): Promise<SigningKey> {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const alg = algFor(privateKey);
  const base = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(base, 'sha256');
  return { alg, kid, privateKey, publicKey, jwk: { ...base, kid, alg, use: 'sig' } };
}

export function generatePem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function rowFor(pem: string): Promise<SigningKeyRow> {
  const key = await signingKeyFromPem(pem);
  return { kid: key.kid, alg: key.alg, privatePem: pem, createdAt: Date.now(), active: true, retiredAt: null };
}

export class KeyRing {
  private active!: SigningKey;
  private verifying = new Map<string, SigningKey>();
  private lastReload = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(private readonly store: KeyStore | null) {}

  /**
   * A configured key file (static), or the store's keys — creating the first one when there is none: the
   * key file an older version generated under <data>/auth/ is imported, else a new P-256 key is made.
   * Several replicas starting at once agree on one key (the store keeps the first).
   */
  static async open(opts: { store: KeyStore; keyFile?: string | null; dataDir?: string }): Promise<{ ring: KeyRing; generated: boolean }> {
    if (opts.keyFile) {
      const ring = new KeyRing(null);
      const key = await signingKeyFromPem(readFileSync(opts.keyFile, 'utf8'));
      ring.active = key;
      ring.verifying = new Map([[key.kid, key]]);
      return { ring, generated: false };
    }
    const ring = new KeyRing(opts.store);
    let generated = false;
    if (!(await opts.store.list()).some((k) => k.active)) {
      const legacy = opts.dataDir ? join(opts.dataDir, 'auth', 'token-signing-key.pem') : null;
      const pem = legacy && existsSync(legacy) ? readFileSync(legacy, 'utf8') : generatePem();
      const row = await rowFor(pem);
      const kept = await opts.store.add(row, { onlyIfNone: true });
      generated = kept.kid === row.kid && !(legacy && existsSync(legacy));
    }
    await ring.reload();
    ring.timer = setInterval(() => void ring.reload().catch(() => undefined), REFRESH_MS);
    ring.timer.unref();
    return { ring, generated };
  }

  /** The key new tokens are signed with. */
  signingKey(): SigningKey {
    return this.active;
  }

  /** The key with this kid, if it may verify tokens (reloading once when it is unknown). */
  async verificationKey(kid: string): Promise<SigningKey | null> {
    const known = this.verifying.get(kid);
    if (known || !this.store) return known ?? null;
    if (Date.now() - this.lastReload < UNKNOWN_KID_RELOAD_MS) return null;
    await this.reload();
    return this.verifying.get(kid) ?? null;
  }

  /** Public keys for the JWKS: every key that may still verify. */
  jwks(): JWK[] {
    return [...this.verifying.values()].map((k) => k.jwk);
  }

  /** Adds a new key and makes it the active one (older keys keep verifying until retired). */
  async rotate(): Promise<SigningKey> {
    if (!this.store) throw new Error('the signing key comes from auth.signing_key (a file): rotate it by replacing the file');
    await this.store.add(await rowFor(generatePem()), { onlyIfNone: false });
    await this.reload();
    return this.active;
  }

  async reload(): Promise<void> {
    if (!this.store) return;
    this.lastReload = Date.now();
    const rows = await this.store.list();
    const verifying = new Map<string, SigningKey>();
    let active: SigningKey | null = null;
    for (const row of rows) {
      if (row.retiredAt !== null) continue;
      const key = this.verifying.get(row.kid) ?? (await signingKeyFromPem(row.privatePem));
      verifying.set(key.kid, key);
      if (row.active) active = key;
    }
    if (!active) throw new Error('no active token signing key in the database');
    this.verifying = verifying;
    this.active = active;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
