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
import type { WorkloadIdentity } from '../registry/access.js';

export type TokenAuthMethod = 'anonymous' | 'password' | 'access-token' | 'oidc';

export interface TokenClaims {
  /** Account name; '' for anonymous tokens. */
  readonly sub: string;
  readonly auth_method: TokenAuthMethod;
  readonly tid?: number;
  readonly access: AccessClaim[];
  /** auth_method `oidc`: the workload the token was exchanged for (`sub` is then ''; no account). */
  readonly workload?: WorkloadIdentity;
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

/**
 * `notAfter` (ms): the token expires then at the latest, whatever the TTL — a token exchanged for an
 * OIDC token never outlives it.
 */
export async function issueToken(key: SigningKey, s: TokenSettings, claims: TokenClaims, now = Date.now(), notAfter?: number): Promise<IssuedToken> {
  const iat = Math.floor(now / 1000);
  const exp = Math.min(iat + s.ttlSeconds, notAfter === undefined ? Infinity : Math.floor(notAfter / 1000));
  const token = await new SignJWT({
    access: claims.access,
    auth_method: claims.auth_method,
    ...(claims.tid !== undefined ? { tid: claims.tid } : {}),
    ...(claims.workload !== undefined ? { workload: claims.workload } : {}),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(s.issuer)
    .setSubject(claims.sub)
    .setAudience(s.service)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { token, expiresIn: exp - iat, issuedAt: new Date(iat * 1000).toISOString() };
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
  if (method !== 'anonymous' && method !== 'password' && method !== 'access-token' && method !== 'oidc') throw new TokenInvalidError('token claim check failed: auth_method');
  if (!isAccessList(payload.access)) throw new TokenInvalidError('token claim check failed: access');
  const tid = payload.tid;
  if (tid !== undefined && (typeof tid !== 'number' || !Number.isInteger(tid))) throw new TokenInvalidError('token claim check failed: tid');
  if (typeof payload.sub !== 'string') throw new TokenInvalidError('token claim check failed: sub');
  if (method === 'access-token' && tid === undefined) throw new TokenInvalidError('token claim check failed: tid');
  let workload: WorkloadIdentity | undefined;
  if (method === 'oidc') {
    const w = payload.workload as Partial<WorkloadIdentity> | undefined;
    const claimsOk = typeof w?.claims === 'object' && w.claims !== null && Object.values(w.claims).every((v) => typeof v === 'string');
    if (typeof w?.issuer !== 'string' || typeof w.subject !== 'string' || !claimsOk || payload.sub !== '') {
      throw new TokenInvalidError('token claim check failed: workload');
    }
    workload = { issuer: w.issuer, subject: w.subject, claims: w.claims! };
  }
  return { sub: payload.sub, auth_method: method, access: payload.access, ...(tid !== undefined ? { tid } : {}), ...(workload ? { workload } : {}) };
}
