/**
 * Registry bearer tokens (Docker token spec): JWTs signed with the registry key, carrying who the subject
 * is, how it authenticated (`auth_method`, for must_use_auth_token_for_push), the access-token id it came
 * from (`tid`, so a revoked token's JWTs stop working at once) and the granted `access` claim.
 *
 * Verification looks the key up by kid (one of ours: the active key or an older one not yet retired), pins
 * the algorithm to that key's own (no `none`, no HS256-with-the-public-key), and checks iss, aud
 * (= service), exp and nbf with a small leeway.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import type { SigningKey } from './keys.js';
import type { AccessClaim } from './scopes.js';

export type TokenAuthMethod = 'anonymous' | 'password' | 'access-token';

export interface TokenClaims {
  /** Account name; '' for anonymous tokens. */
  readonly sub: string;
  readonly auth_method: TokenAuthMethod;
  readonly tid?: number;
  readonly access: AccessClaim[];
}

export interface TokenSettings {
  readonly issuer: string;
  readonly service: string;
  readonly ttlSeconds: number;
  readonly leewaySeconds: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresIn: number;
  readonly issuedAt: string;
}

export async function issueToken(key: SigningKey, s: TokenSettings, claims: TokenClaims, now = Date.now()): Promise<IssuedToken> {
  const iat = Math.floor(now / 1000);
  const token = await new SignJWT({ access: claims.access, auth_method: claims.auth_method, ...(claims.tid !== undefined ? { tid: claims.tid } : {}) })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(s.issuer)
    .setSubject(claims.sub)
    .setAudience(s.service)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + s.ttlSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { token, expiresIn: s.ttlSeconds, issuedAt: new Date(iat * 1000).toISOString() };
}

export class TokenInvalidError extends Error {
  override name = 'TokenInvalidError';
}

const isAccessList = (v: unknown): v is AccessClaim[] =>
  Array.isArray(v) &&
  v.every(
    (a) =>
      typeof a === 'object' &&
      a !== null &&
      typeof (a as AccessClaim).type === 'string' &&
      typeof (a as AccessClaim).name === 'string' &&
      Array.isArray((a as AccessClaim).actions) &&
      (a as AccessClaim).actions.every((x) => typeof x === 'string'),
  );

/** Verifies a token; throws TokenInvalidError with a reason that is safe to return to the client. */
export async function verifyToken(
  keyFor: (kid: string) => Promise<SigningKey | null>,
  s: TokenSettings,
  token: string,
  now = Date.now(),
): Promise<TokenClaims> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenInvalidError('malformed token');
  }
  const key = typeof header.kid === 'string' ? await keyFor(header.kid) : null;
  if (!key) throw new TokenInvalidError('token signed by an unknown key');
  if (header.alg !== key.alg) throw new TokenInvalidError('token algorithm not accepted');
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer: s.issuer,
      audience: s.service,
      clockTolerance: s.leewaySeconds,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'nbf', 'iat', 'sub', 'access'],
    }));
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) throw new TokenInvalidError('token expired');
    if (e instanceof joseErrors.JWTClaimValidationFailed) throw new TokenInvalidError(`token claim check failed: ${e.claim}`);
    throw new TokenInvalidError('token signature invalid');
  }
  const method = payload.auth_method;
  if (method !== 'anonymous' && method !== 'password' && method !== 'access-token') throw new TokenInvalidError('token claim check failed: auth_method');
  if (!isAccessList(payload.access)) throw new TokenInvalidError('token claim check failed: access');
  const tid = payload.tid;
  if (tid !== undefined && (typeof tid !== 'number' || !Number.isInteger(tid))) throw new TokenInvalidError('token claim check failed: tid');
  if (typeof payload.sub !== 'string') throw new TokenInvalidError('token claim check failed: sub');
  if (method === 'access-token' && tid === undefined) throw new TokenInvalidError('token claim check failed: tid');
  return { sub: payload.sub, auth_method: method, access: payload.access, ...(tid !== undefined ? { tid } : {}) };
}
