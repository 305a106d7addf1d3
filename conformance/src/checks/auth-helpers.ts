// Token-endpoint helpers for the auth and push-rule checks: they talk to the realm the registry advertises.
import type { CheckContext } from '../harness/types.js';
import type { Credentials } from '../config.js';
import { basicHeader, type Challenge } from '../http/auth.js';
import type { HttpClient, Res } from '../http/client.js';

/** The registry's bearer challenge, or a skip when it does not use token auth. */
export function bearerChallenge(ctx: CheckContext): Challenge & { realm: string } {
  const ch = ctx.http.session.challenge;
  if (!ch) ctx.skip('registry does not require authentication (GET /v2/ answered without a 401 challenge)');
  if (ch.scheme !== 'bearer' || !ch.realm) ctx.skip(`registry uses ${ch.scheme} auth, not Docker token auth`);
  return ch as Challenge & { realm: string };
}

export function requireCreds(ctx: CheckContext): Credentials {
  if (!ctx.config.credentials) ctx.skip('no credentials configured (OCI_USERNAME/OCI_PASSWORD or credentials: in the config)');
  return ctx.config.credentials;
}

export function realmUrl(ctx: CheckContext, ch: Challenge & { realm: string }, scopes: string[], service = ch.service): URL {
  const u = new URL(ch.realm, ctx.config.url);
  if (service) u.searchParams.set('service', service);
  for (const s of scopes) u.searchParams.append('scope', s);
  return u;
}

export async function getToken(http: HttpClient, url: URL, creds?: Credentials): Promise<Res> {
  return http.raw('GET', url, { headers: creds ? { authorization: basicHeader(creds) } : {} });
}

export async function postForm(http: HttpClient, realm: URL, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Res> {
  return http.raw('POST', realm, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
}

export function tokenOf(res: Res): string | undefined {
  const j = res.json<{ token?: string; access_token?: string }>();
  return j?.token ?? j?.access_token;
}

/** Try to open an upload with an exact Authorization header; an opened session is cancelled again. */
export async function tryPush(http: HttpClient, repo: string, authorization: string | undefined): Promise<Res> {
  const res = await http.request('POST', `/v2/${repo}/blobs/uploads/`, {
    auth: 'none',
    ...(authorization ? { authorization } : {}),
  });
  if (res.status === 202 && res.headers.get('location')) {
    await http.request('DELETE', new URL(res.headers.get('location')!, res.url).toString(), { auth: 'none', ...(authorization ? { authorization } : {}) }).catch(() => undefined);
  }
  return res;
}

export function repoScope(repo: string, actions: string): string {
  return `repository:${repo}:${actions}`;
}
