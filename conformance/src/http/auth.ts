// Registry authentication as a client sees it: learn the challenge from a 401, then send Basic credentials or
// fetch a Docker-token-spec bearer token per scope from the realm.
import type { Credentials } from '../config.js';

export interface Challenge {
  scheme: 'bearer' | 'basic';
  realm?: string;
  service?: string;
  scope?: string;
  error?: string;
}

/** Parse `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`. Returns undefined for unknown schemes. */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2] ?? '')) !== null) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme, realm: params.realm, service: params.service, scope: params.scope, error: params.error };
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

/** Token cache and challenge knowledge for one identity (or anonymous). Shared by the clients of that identity. */
export class AuthSession {
  challenge?: Challenge;
  private tokens = new Map<string, { token: string; until: number }>();
  /** OAuth2 refresh token from the first password grant: later tokens are exchanged for it instead of
   *  re-sending the password (registries hash passwords slowly on purpose). null: the realm has no OAuth2. */
  refreshToken?: string | null;
  constructor(readonly credentials: Credentials | undefined) {}

  learn(header: string | null): boolean {
    const c = parseChallenge(header);
    if (!c) return false;
    const changed = this.challenge?.scheme !== c.scheme || this.challenge?.realm !== c.realm;
    this.challenge = c;
    return changed || true;
  }

  cachedToken(scope: string): string | undefined {
    const hit = this.tokens.get(scope);
    return hit && hit.until > Date.now() ? hit.token : undefined;
  }

  storeToken(scope: string, token: string, expiresInSeconds: number | undefined): void {
    // Renew a little early so a token never expires mid-request.
    const life = Math.max(5, (expiresInSeconds ?? 60) - 5) * 1000;
    this.tokens.set(scope, { token, until: Date.now() + life });
  }
}

/** `/v2/<name>/<endpoint>`: name (greedy) and the endpoint suffix. */
export const REPO_PATH = /^\/v2\/(.+)\/(blobs\/uploads(?:\/[^/]*)?|blobs\/[^/]+|manifests\/[^/]+|tags\/list|referrers\/[^/]+)$/;

/** The Docker token scope a registry request needs, derived from its method and path. */
export function scopeFor(method: string, pathname: string, extra: string[] = []): string {
  const scopes: string[] = [];
  // Anchored on the endpoint suffix, so a repository named like `a/tags/b` or `x/blobs` is not cut short.
  const m = REPO_PATH.exec(pathname);
  if (m) {
    // Upload sessions are push territory whatever the method (status GET, cancel DELETE).
    const upload = m[2]!.startsWith('blobs/uploads');
    const actions = upload ? 'pull,push' : method === 'GET' || method === 'HEAD' ? 'pull' : method === 'DELETE' ? 'delete' : 'pull,push';
    scopes.push(`repository:${m[1]}:${actions}`);
  } else if (pathname.startsWith('/v2/_catalog')) {
    scopes.push('registry:catalog:*');
  }
  scopes.push(...extra);
  return scopes.join(' ');
}
