/**
 * Client-side helpers for the auth tests: push a manifest tree with an Authorization header, get tokens
 * the way clients do, and build real cosign-format signatures with node:crypto.
 */
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import type supertest from 'supertest';
import { allBlobs, allManifests, blobOf, descriptor, MT, ociImage, type Blob, type Built } from '../helpers/oci.js';
import { basic } from './harness.js';

export type Auth = string | undefined;

const withAuth = (r: supertest.Test, auth: Auth) => (auth ? r.set('Authorization', auth) : r);

export function pushBlobAs(request: supertest.Agent, repo: string, blob: Blob, auth: Auth) {
  return withAuth(request.post(`/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`), auth)
    .set('Content-Type', 'application/octet-stream')
    .send(blob.bytes);
}

export function putManifestAs(request: supertest.Agent, repo: string, ref: string, m: Built | Blob, auth: Auth) {
  // superagent JSON-encodes a Buffer sent with a +json type; the identity serializer keeps the bytes.
  return withAuth(request.put(`/v2/${repo}/manifests/${ref}`), auth)
    .serialize((x: unknown) => x as string)
    .set('Content-Type', m.mediaType)
    .send(m.bytes);
}

/** Pushes blobs and manifests; returns the status of the last failing step or of the root manifest PUT. */
export async function pushAs(request: supertest.Agent, repo: string, root: Built, ref: string, auth: Auth): Promise<supertest.Response> {
  for (const b of allBlobs(root)) {
    const r = await pushBlobAs(request, repo, b, auth);
    if (r.status !== 201) return r;
  }
  let last: supertest.Response | undefined;
  for (const m of allManifests(root)) {
    last = await putManifestAs(request, repo, m.digest === root.digest ? ref : m.digest, m, auth);
    if (last.status !== 201) return last;
  }
  return last!;
}

export const bearer = (token: string) => `Bearer ${token}`;

/** The quick reference's token request: POST with Basic and form service+scope. */
export async function seedToken(request: supertest.Agent, user: string, password: string, scope: string | string[]): Promise<string> {
  const scopes = (Array.isArray(scope) ? scope : [scope]).map((s) => `&scope=${encodeURIComponent(s)}`).join('');
  const r = await request
    .post('/api/auth/token')
    .set('Authorization', basic(user, password))
    .type('form')
    .send(`service=nitro-repo${scopes}`);
  if (r.status !== 200) throw new Error(`token request → ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { token: string }).token;
}

export interface CosignSignature {
  /** The signature manifest (OCI, artifactType cosign sig, subject = the image when `referrer`). */
  readonly manifest: Built;
  readonly payload: Blob;
}

/**
 * A cosign "simple signing" signature of `digest`, as `cosign sign --key` writes it: the payload JSON is a
 * blob, the signature (over the payload bytes) is the base64 annotation on the payload layer.
 */
export function cosignSignature(
  key: KeyObject,
  repo: string,
  digest: string,
  opts: { subject?: Built; tamper?: 'payload-digest' | 'signature'; alg?: 'sha256' | null } = {},
): CosignSignature {
  const claimed = opts.tamper === 'payload-digest' ? `sha256:${'0'.repeat(64)}` : digest;
  const payloadDoc = {
    critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': claimed }, type: 'cosign container image signature' },
    optional: null,
  };
  const payload = blobOf(JSON.stringify(payloadDoc), 'application/vnd.dev.cosign.simplesigning.v1+json');
  let sig = sign(opts.alg === undefined ? 'sha256' : opts.alg, payload.bytes, key);
  if (opts.tamper === 'signature') sig = Buffer.from(sig.map((b, i) => (i === 10 ? b ^ 1 : b)));
  const config = blobOf('{}', MT.ociEmpty);
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(opts.subject ? { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' } : {}),
    config: descriptor(config),
    layers: [descriptor(payload, { annotations: { 'dev.cosignproject.cosign/signature': sig.toString('base64') } })],
    ...(opts.subject ? { subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size } } : {}),
  };
  const manifest: Built = { ...blobOf(JSON.stringify(doc), MT.ociManifest), doc, blobs: [config, payload], children: [] };
  return { manifest, payload };
}

/** The cosign fallback tag of a digest: sha256-<hex>.sig */
export const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

/** A distinct image each call (ociImage() is deterministic: same files, same digest). */
export const uniqueImage = (): Built => ociImage({ annotations: { 'test.unique': randomUUID() } });
