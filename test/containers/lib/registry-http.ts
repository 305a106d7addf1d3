// Minimal registry HTTP client for assertions: follows a 401 challenge once, either
// Basic (Distribution's htpasswd) or Bearer (token auth: fetch a token from the realm
// with Basic credentials), like docker does.
export interface Credentials {
  username: string;
  password: string;
}

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const [scheme = "", rest = ""] = header.split(/ (.*)/s);
  const params: Record<string, string> = {};
  for (const m of rest.matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!] = m[2]!;
  return { scheme: scheme.toLowerCase(), params };
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export async function registryFetch(url: string, init: RequestInit = {}, credentials?: Credentials): Promise<Response> {
  const first = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const challenge = first.headers.get("www-authenticate");
  if (first.status !== 401 || credentials === undefined || challenge === null) return first;
  await first.body?.cancel();
  const { scheme, params } = parseChallenge(challenge);
  const headers = new Headers(init.headers);
  if (scheme === "basic") {
    headers.set("authorization", basic(credentials));
  } else if (scheme === "bearer" && params.realm !== undefined) {
    const tokenUrl = new URL(params.realm);
    if (params.service !== undefined) tokenUrl.searchParams.set("service", params.service);
    if (params.scope !== undefined) tokenUrl.searchParams.set("scope", params.scope);
    const tokenResponse = await fetch(tokenUrl, { headers: { authorization: basic(credentials) }, signal: AbortSignal.timeout(15_000) });
    if (!tokenResponse.ok) throw new Error(`token endpoint ${tokenUrl.href} answered ${tokenResponse.status}`);
    const body = (await tokenResponse.json()) as { token?: string; access_token?: string };
    headers.set("authorization", `Bearer ${body.token ?? body.access_token ?? ""}`);
  } else {
    return first;
  }
  return await fetch(url, { ...init, headers, signal: AbortSignal.timeout(15_000) });
}

/** Digest and parsed body of a manifest, as served for `reference` (tag or digest). */
export async function getManifest(
  baseUrl: string,
  repository: string,
  reference: string,
  credentials?: Credentials,
): Promise<{ status: number; digest: string | null; mediaType: string | null; body: Record<string, unknown> | undefined }> {
  const r = await registryFetch(`${baseUrl}/v2/${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } }, credentials);
  const text = await r.text();
  return {
    status: r.status,
    digest: r.headers.get("docker-content-digest"),
    mediaType: r.headers.get("content-type"),
    body: r.ok ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
