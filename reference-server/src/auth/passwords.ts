/**
 * Password hashing with scrypt (node:crypto): per-password random salt, N=2^15 (≈ 50 ms), encoded as
 * `scrypt$N$r$p$salt$hash` so parameters can be raised later without breaking stored hashes.
 * Access tokens are random (256 bits), so a fast hash (sha256) is enough for them; see accounts.ts.
 */
import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';

const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;
// scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is exactly that, leave headroom.
const MAXMEM = 64 * 1024 * 1024;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEYLEN, { N: n, r, p, maxmem: MAXMEM }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time check; false for malformed hashes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (!Number.isInteger(n) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length !== KEYLEN) return false;
  const key = await scryptAsync(password, salt, n, r, p);
  return timingSafeEqual(key, expected);
}

/**
 * A hash to compare against when the user does not exist, so an unknown name costs the same time as a
 * wrong password (no user enumeration by timing).
 */
let dummy: Promise<string> | null = null;
export const dummyHash = (): Promise<string> => (dummy ??= hashPassword(randomBytes(16).toString('hex')));

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A random secret with a recognisable prefix (secret scanners can find leaked ones). */
export const newSecret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;
