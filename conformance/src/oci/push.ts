// Push/pull building blocks shared by checks. They throw RegistryFailure when the registry answers unexpectedly,
// which the runner reports as a failed check (the registry's fault), never as a harness error.
import type { HttpClient, Res } from '../http/client.js';
import { RegistryFailure } from '../harness/types.js';
import { sha256, uniqueBlob, uniqueConfig } from './digest.js';
import { MT } from './media.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export function describe(res: Res, what: string): string {
  const err = res.json<{ errors?: { code: string }[] }>()?.errors?.map((e) => e.code).join(',');
  return `${what}: HTTP ${res.status}${err ? ` (${err})` : ''}`;
}

export function expectStatus(res: Res, want: number | number[], what: string): Res {
  const ok = Array.isArray(want) ? want.includes(res.status) : res.status === want;
  if (!ok) throw new RegistryFailure(`${describe(res, what)}, expected ${Array.isArray(want) ? want.join('|') : want}`);
  return res;
}

export function locationOf(res: Res, what: string): string {
  const loc = res.headers.get('location');
  if (!loc) throw new RegistryFailure(`${what}: no Location header in HTTP ${res.status} response`);
  return new URL(loc, res.url).toString();
}

/** Append `key=value` to an upload URL that may already carry a query (state tokens). */
export function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** Start an upload session: POST → 202 + Location. */
export async function startUpload(http: HttpClient, repo: string): Promise<string> {
  const res = expectStatus(await http.request('POST', `/v2/${repo}/blobs/uploads/`), 202, 'POST blob upload');
  return locationOf(res, 'POST blob upload');
}

/** The most widely supported upload: POST then a single PUT with the whole body. */
export async function pushBlob(http: HttpClient, repo: string, data: Buffer): Promise<Descriptor> {
  const digest = sha256(data);
  const loc = await startUpload(http, repo);
  const res = await http.request('PUT', withQuery(loc, 'digest', digest), {
    body: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expectStatus(res, 201, 'PUT blob');
  return { mediaType: 'application/octet-stream', digest, size: data.length };
}

export async function pushManifest(
  http: HttpClient,
  repo: string,
  ref: string,
  body: Buffer,
  mediaType: string,
): Promise<Res> {
  return http.request('PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'content-type': mediaType } });
}

export function json(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj));
}

export interface PushedImage {
  manifest: Buffer;
  digest: string;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  descriptor: Descriptor;
}

/** Build an OCI image manifest (blobs must already be pushed). */
export function ociManifest(o: {
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    config: o.config,
    layers: o.layers,
    ...(o.subject ? { subject: { mediaType: o.subject.mediaType, digest: o.subject.digest, size: o.subject.size } } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  });
}

/** Push config + layers + an OCI (or Docker schema2) manifest under `ref`. */
export async function pushImage(
  http: HttpClient,
  repo: string,
  /** Tag to push under; null pushes by digest. */
  ref: string | null,
  o: { layers?: Buffer[]; docker?: boolean; annotations?: Record<string, string> } = {},
): Promise<PushedImage> {
  const cfgBytes = uniqueConfig();
  const cfg = await pushBlob(http, repo, cfgBytes);
  const layers: Descriptor[] = [];
  for (const l of o.layers ?? [uniqueBlob(128)]) {
    const d = await pushBlob(http, repo, l);
    layers.push({ ...d, mediaType: o.docker ? MT.dockerLayer : MT.ociLayer });
  }
  const mediaType = o.docker ? MT.dockerManifest : MT.ociManifest;
  const config = { ...cfg, mediaType: o.docker ? MT.dockerConfig : MT.ociConfig };
  const manifest = o.docker
    ? json({ schemaVersion: 2, mediaType, config, layers })
    : ociManifest({ config, layers, annotations: o.annotations });
  const digest = sha256(manifest);
  const res = await pushManifest(http, repo, ref ?? digest, manifest, mediaType);
  expectStatus(res, 201, `PUT manifest ${ref ?? digest}`);
  return { manifest, digest, mediaType, config, layers, descriptor: { mediaType, digest, size: manifest.length } };
}

/** Parse an OCI error body; undefined when it is not one. */
export function errorCodes(res: Res): string[] | undefined {
  const j = res.json<{ errors?: Array<{ code?: unknown; message?: unknown }> }>();
  if (!j || !Array.isArray(j.errors)) return undefined;
  return j.errors.map((e) => String(e.code));
}
