// What the registry supports, found by probing before the checks run (or declared in the config file, which wins).
// A check that exercises an optional feature the registry lacks is "unsupported", never "failed". Some features
// are only known once their check has run (Range, a manifest size limit): the check records them here.
import { randomBytes } from 'node:crypto';
import type { Credentials } from './config.js';
import { basicHeader } from './http/auth.js';
import type { HttpClient } from './http/client.js';
import { sha256, sha512, uniqueBlob, uniqueConfig } from './oci/digest.js';
import { MT } from './oci/media.js';
import { ociManifest, pushBlob, pushManifest, startUpload, withQuery } from './oci/push.js';

export const FEATURES = {
  referrers: 'referrers API (GET /v2/<name>/referrers/<digest>) and OCI-Subject',
  tagParams: 'tag parameters on manifest PUT by digest (?tag=, OCI-Tag)',
  chunkMinLength: 'minimum chunk length announced (OCI-Chunk-Min-Length)',
  singlePost: 'single-request upload (POST ?digest= with the body)',
  range: 'Range requests on blob GET (206)',
  sha512: 'sha512 blob digests',
  deletes: 'manifest and blob DELETE',
  deleteByTag: 'tag DELETE (DELETE /manifests/<tag>)',
  mountWithoutFrom: 'cross-repository mount without from= (automatic content discovery)',
  catalog: 'GET /v2/_catalog',
  manifestSizeLimit: 'manifest size limit answered with 413',
  tokenGet: 'token endpoint: GET with Basic credentials',
  tokenPostBasic: 'token endpoint: POST form with Basic credentials and no grant_type',
  oauth2Password: 'token endpoint: OAuth2 POST grant_type=password',
  refreshToken: 'token endpoint: refresh tokens (access_type=offline, grant_type=refresh_token)',
} as const;

export type FeatureId = keyof typeof FEATURES;

export interface FeatureEntry {
  /** undefined: not known (not probed, probe impossible, or its check did not run). */
  supported: boolean | undefined;
  source: 'declared' | 'probed' | 'check';
  detail?: string;
}

export class FeatureTable {
  private readonly entries = new Map<FeatureId, FeatureEntry>();

  constructor(declared: Partial<Record<FeatureId, boolean>> = {}) {
    for (const [id, v] of Object.entries(declared) as Array<[FeatureId, boolean | undefined]>) {
      if (typeof v === 'boolean') this.entries.set(id, { supported: v, source: 'declared', detail: 'declared in the configuration' });
    }
  }

  get(id: FeatureId): FeatureEntry | undefined {
    return this.entries.get(id);
  }

  declared(id: FeatureId): boolean {
    return this.entries.get(id)?.source === 'declared';
  }

  /** Record what a probe or a check found; a declared value is never overwritten. */
  record(id: FeatureId, supported: boolean | undefined, detail: string, source: 'probed' | 'check' = 'probed'): void {
    if (this.declared(id)) return;
    this.entries.set(id, { supported, source, detail });
  }

  /** Reason for an "unsupported" outcome when the feature is known to be missing, else undefined. */
  missing(id: FeatureId): string | undefined {
    const e = this.entries.get(id);
    if (!e || e.supported !== false) return undefined;
    return `${FEATURES[id]}: not supported (${e.source === 'declared' ? 'declared in the configuration' : e.detail ?? e.source})`;
  }

  toJSON(): Record<string, FeatureEntry & { title: string }> {
    const out: Record<string, FeatureEntry & { title: string }> = {};
    for (const id of Object.keys(FEATURES) as FeatureId[]) {
      const e = this.entries.get(id) ?? { supported: undefined, source: 'probed' as const, detail: 'not probed' };
      out[id] = { title: FEATURES[id], ...e };
    }
    return out;
  }
}

const status = (what: string, s: number) => `${what} → HTTP ${s}`;

/**
 * Probe the registry in a scratch repository `repo` (and `repo-mount`). Everything pushed here is recorded by the
 * client's ledger and removed with the rest of the run. Never throws: a probe that cannot run leaves the feature
 * unknown, so the checks run and report what they see.
 */
export async function probeFeatures(http: HttpClient, table: FeatureTable, repo: string, credentials?: Credentials): Promise<string[]> {
  const notes: string[] = [];
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      notes.push(`feature probe "${what}" could not run: ${(e as Error).message}`);
    }
  };
  let image: { digest: string; manifest: Buffer; layer: string } | undefined;
  await guard('push', async () => {
    const cfg = await pushBlob(http, repo, uniqueConfig());
    const layer = await pushBlob(http, repo, uniqueBlob(64));
    const manifest = ociManifest({ config: { ...cfg, mediaType: MT.ociConfig }, layers: [{ ...layer, mediaType: MT.ociLayer }] });
    const put = await pushManifest(http, repo, 'probe', manifest, MT.ociManifest);
    if (put.status !== 201) throw new Error(status('PUT manifest', put.status));
    image = { digest: sha256(manifest), manifest, layer: layer.digest };
  });

  await guard('upload session', async () => {
    const post = await http.request('POST', `/v2/${repo}/blobs/uploads/`);
    if (post.status !== 202) return;
    const min = post.headers.get('oci-chunk-min-length');
    table.record('chunkMinLength', min !== null, min !== null ? `OCI-Chunk-Min-Length: ${min}` : 'POST upload carries no OCI-Chunk-Min-Length');
    const loc = post.headers.get('location');
    if (loc) await http.request('DELETE', new URL(loc, post.url).toString());
  });

  await guard('sha512', async () => {
    const data = uniqueBlob(32);
    const loc = await startUpload(http, repo);
    const put = await http.request('PUT', withQuery(loc, 'digest', sha512(data)), { body: data, headers: { 'content-type': 'application/octet-stream' } });
    table.record('sha512', put.status === 201, status('PUT ?digest=sha512:…', put.status));
    if (put.status !== 201) await http.request('DELETE', loc).catch(() => undefined);
  });

  if (image) {
    const img = image;
    await guard('referrers', async () => {
      const res = await http.request('GET', `/v2/${repo}/referrers/${img.digest}`);
      const ok = res.status === 200 && Array.isArray(res.json<{ manifests?: unknown }>()?.manifests);
      table.record('referrers', ok, status('GET /referrers/<digest>', res.status) + (res.status === 200 && !ok ? ' without an image index' : ''));
    });
    await guard('tag parameters', async () => {
      const res = await http.request('PUT', `/v2/${repo}/manifests/${img.digest}?tag=probe-param`, { body: img.manifest, headers: { 'content-type': MT.ociManifest } });
      const tags = res.headers.get('oci-tag');
      table.record('tagParams', res.status === 201 && tags !== null, res.status === 201 ? (tags ? `OCI-Tag: ${tags}` : 'PUT by digest ?tag= answers without OCI-Tag') : status('PUT by digest ?tag=', res.status));
    });
    await guard('mount without from', async () => {
      const res = await http.request('POST', `/v2/${repo}-mount/blobs/uploads/?mount=${img.layer}`);
      table.record('mountWithoutFrom', res.status === 201, status('POST ?mount= without from', res.status));
      const loc = res.headers.get('location');
      if (res.status === 202 && loc) await http.request('DELETE', new URL(loc, res.url).toString());
    });
    await guard('tag delete', async () => {
      const put = await pushManifest(http, repo, 'probe-delete', img.manifest, MT.ociManifest);
      if (put.status !== 201) return;
      const del = await http.request('DELETE', `/v2/${repo}/manifests/probe-delete`);
      table.record('deleteByTag', del.status === 202, status('DELETE /manifests/<tag>', del.status));
    });
    await guard('delete', async () => {
      const m = ociManifest({ config: JSON.parse(img.manifest.toString()).config, layers: JSON.parse(img.manifest.toString()).layers, annotations: { probe: randomBytes(4).toString('hex') } });
      const put = await pushManifest(http, repo, sha256(m), m, MT.ociManifest);
      if (put.status !== 201) return;
      const del = await http.request('DELETE', `/v2/${repo}/manifests/${sha256(m)}`);
      table.record('deletes', del.status === 202, status('DELETE /manifests/<digest>', del.status));
    });
  }

  await guard('catalog', async () => {
    const res = await http.request('GET', '/v2/_catalog?n=1');
    const ok = res.status === 200 && Array.isArray(res.json<{ repositories?: unknown }>()?.repositories);
    table.record('catalog', ok, status('GET /v2/_catalog?n=1', res.status));
  });

  const ch = http.session.challenge;
  if (ch?.scheme === 'bearer' && ch.realm) {
    const realm = new URL(ch.realm, http.baseUrl);
    const scope = `repository:${repo}:pull`;
    await guard('token GET', async () => {
      const u = new URL(realm);
      if (ch.service) u.searchParams.set('service', ch.service);
      u.searchParams.set('scope', scope);
      const res = await http.raw('GET', u, { headers: credentials ? { authorization: basicHeader(credentials) } : {} });
      table.record('tokenGet', res.status === 200, status('GET realm', res.status));
    });
    if (credentials) {
      const form = (f: Record<string, string>, headers: Record<string, string> = {}) =>
        http.raw('POST', realm, { headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(f).toString() });
      await guard('token POST', async () => {
        const res = await form({ service: ch.service ?? '', scope }, { authorization: basicHeader(credentials) });
        table.record('tokenPostBasic', res.status === 200, status('POST realm with Basic, no grant_type', res.status));
      });
      await guard('OAuth2', async () => {
        const res = await form({ grant_type: 'password', service: ch.service ?? '', scope, client_id: 'nitro-conformance', access_type: 'offline', username: credentials.username, password: credentials.password });
        const j = res.status === 200 ? res.json<{ access_token?: string; refresh_token?: string }>() : undefined;
        table.record('oauth2Password', !!j?.access_token, status('POST grant_type=password', res.status));
        table.record('refreshToken', !!j?.refresh_token, j ? (j.refresh_token ? 'refresh_token issued for access_type=offline' : 'no refresh_token for access_type=offline') : status('POST grant_type=password', res.status));
      });
    }
  }
  return notes;
}

