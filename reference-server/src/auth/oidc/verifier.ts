/**
 * Verifies OIDC tokens of the trusted issuers (auth.oidc).
 *
 * The token's `iss` (read before verification, only to pick the issuer entry) must be configured; the
 * signature must verify with a key the issuer publishes in its JWKS, found by `kid`; the algorithm is
 * RS256 or ES256 (never `none`, never HS256 — a MAC "keyed" with a public key is forgeable by anyone);
 * iss, aud, exp, nbf and iat are checked. The clock skew tolerance applies to nbf and iat (an issuer
 * whose clock runs a little ahead); a token past its exp is refused, so the registry token made from it,
 * which expires with it at the latest, is never born dead.
 *
 * Keys: discovered from <issuer>/.well-known/openid-configuration (whose `issuer` must be the configured
 * one, as OIDC Discovery requires) unless jwks_uri is configured, then fetched by jose's remote JWKS:
 * cached, and refetched when a token names an unknown kid (the issuer rotated keys) at most once per
 * jwks_cooldown_seconds, so garbage kids cannot turn the registry into a request amplifier.
 *
 * An issuer with ca_file is fetched through an undici Agent trusting that CA besides the system's; the
 * file is read when auth starts, so a missing file fails the start, not the first CI job.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type FetchImplementation, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { AuthConfigError } from '../config.js';
import { checkOidcUrl, type OidcIssuerConfig } from './config.js';

export const OIDC_ALGORITHMS = ['RS256', 'ES256'] as const;
const FETCH_TIMEOUT_MS = 5000;
const MAX_DISCOVERY_BYTES = 256 * 1024;

/** A refused token; `reason` is safe to return to the client (never echoes the token). */
export class OidcTokenRejected extends Error {
  override name = 'OidcTokenRejected';
}

export interface VerifiedOidcToken {
  readonly issuer: OidcIssuerConfig;
  readonly claims: JWTPayload & { sub: string; exp: number };
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** Three base64url segments: what an OIDC token looks like (cheap test before any parsing). */
export const looksLikeJwt = (s: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);

export class OidcVerifier {
  private readonly byIssuer: Map<string, OidcIssuerConfig>;
  /** issuer → its JWKS (a pending discovery is shared; a failed one is forgotten, so the next token retries). */
  private readonly keySets = new Map<string, Promise<KeySet>>();
  /** issuer → an undici Agent trusting its ca_file (absent: the global fetch and Node's roots). */
  private readonly agents = new Map<string, Agent>();

  constructor(
    issuers: readonly OidcIssuerConfig[],
    private readonly now: () => number = Date.now,
  ) {
    this.byIssuer = new Map(issuers.map((i) => [i.issuer, i]));
    for (const i of issuers) {
      if (!i.caFile) continue;
      let ca: string;
      try {
        ca = readFileSync(i.caFile, 'utf8');
      } catch (e) {
        throw new AuthConfigError(`auth.oidc: cannot read ca_file ${i.caFile} of ${i.issuer}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      this.agents.set(i.issuer, new Agent({ connect: { ca: [ca, ...rootCertificates] } }));
    }
  }

  /** The agents hold keep-alive sockets to the issuers. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }

  /** GET through the issuer's CA agent, or the global fetch. */
  private get(issuer: OidcIssuerConfig, url: string, init: { headers: Record<string, string>; signal: AbortSignal }): Promise<Response> {
    const dispatcher = this.agents.get(issuer.issuer);
    if (!dispatcher) return fetch(url, { ...init, redirect: 'error' });
    return undiciFetch(url, { ...init, redirect: 'error', dispatcher }) as unknown as Promise<Response>;
  }

  get enabled(): boolean {
    return this.byIssuer.size > 0;
  }

  trusts(issuer: string): boolean {
    return this.byIssuer.has(issuer);
  }

  async verify(token: string): Promise<VerifiedOidcToken> {
    if (!looksLikeJwt(token)) throw new OidcTokenRejected('not a JWT');
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      throw new OidcTokenRejected('malformed token');
    }
    if (!(OIDC_ALGORITHMS as readonly unknown[]).includes(alg)) {
      throw new OidcTokenRejected(`token algorithm ${typeof alg === 'string' ? alg.slice(0, 20) : '(none)'} not accepted (${OIDC_ALGORITHMS.join(', ')} only)`);
    }
    const issuer = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!issuer) throw new OidcTokenRejected(`issuer ${typeof iss === 'string' ? JSON.stringify(iss.slice(0, 200)) : '(none)'} is not trusted`);

    const keys = await this.keySet(issuer);
    const now = this.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [...OIDC_ALGORITHMS],
        issuer: issuer.issuer,
        audience: [...issuer.audiences],
        clockTolerance: issuer.clockSkewSeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (e) {
      throw new OidcTokenRejected(reasonOf(e));
    }
    const exp = payload.exp!;
    if (exp * 1000 <= now) throw new OidcTokenRejected('token expired');
    if (payload.iat! * 1000 > now + issuer.clockSkewSeconds * 1000) throw new OidcTokenRejected('token issued in the future (iat)');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new OidcTokenRejected('token has no subject');
    return { issuer, claims: { ...payload, sub: payload.sub, exp } };
  }

  private keySet(issuer: OidcIssuerConfig): Promise<KeySet> {
    let p = this.keySets.get(issuer.issuer);
    if (!p) {
      p = this.discover(issuer).then((uri) =>
        createRemoteJWKSet(new URL(uri), {
          cooldownDuration: issuer.jwksCooldownSeconds * 1000,
          timeoutDuration: FETCH_TIMEOUT_MS,
          ...(this.agents.has(issuer.issuer) ? { [customFetch]: this.joseFetch(issuer) } : {}),
        }),
      );
      this.keySets.set(issuer.issuer, p);
      p.catch(() => this.keySets.delete(issuer.issuer));
    }
    return p;
  }

  /** jose's JWKS fetch, through the issuer's CA agent. */
  private joseFetch(issuer: OidcIssuerConfig): FetchImplementation {
    const dispatcher = this.agents.get(issuer.issuer)!;
    return (url, options) =>
      undiciFetch(url, { method: options.method, headers: Object.fromEntries(options.headers.entries()), redirect: 'error', signal: options.signal, dispatcher }) as unknown as Promise<Response>;
  }

  /** The JWKS URL: configured, or from the discovery document. */
  private async discover(issuer: OidcIssuerConfig): Promise<string> {
    if (issuer.jwksUri) return issuer.jwksUri;
    const url = `${issuer.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      const res = await this.get(issuer, url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_DISCOVERY_BYTES) throw new Error('document too large');
      doc = JSON.parse(text);
    } catch (e) {
      throw new OidcTokenRejected(`cannot read the issuer's discovery document ${url}: ${(e as Error).message}`);
    }
    const d = doc as { issuer?: unknown; jwks_uri?: unknown };
    if (d.issuer !== issuer.issuer) throw new OidcTokenRejected(`the discovery document of ${issuer.issuer} names another issuer`);
    if (typeof d.jwks_uri !== 'string') throw new OidcTokenRejected(`the discovery document of ${issuer.issuer} has no jwks_uri`);
    try {
      return checkOidcUrl(d.jwks_uri, `jwks_uri of ${issuer.issuer}`, issuer.allowInsecureLoopback).href;
    } catch (e) {
      throw new OidcTokenRejected(e instanceof AuthConfigError ? e.message : 'bad jwks_uri');
    }
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof OidcTokenRejected) return e.message;
  if (e instanceof joseErrors.JWTExpired) return 'token expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return 'token not yet valid (nbf)';
    if (e.claim === 'aud') return 'token audience is not this registry';
    return `token claim check failed: ${e.claim}`;
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey) return "token signed by a key the issuer does not publish (kid not in the issuer's JWKS)";
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not accepted';
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || e instanceof TypeError) return "cannot fetch the issuer's keys (JWKS)";
  return 'token invalid';
}
