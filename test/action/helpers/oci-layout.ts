import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
}

export interface BuiltLayout {
  dir: string;
  indexDigest: string;
  /** Platform (`linux/amd64`) → manifest digest. */
  platforms: Record<string, string>;
  layers: Record<string, Blob>;
  configs: Record<string, Blob>;
  attestations: string[];
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function writeBlob(dir: string, bytes: Buffer | string, mediaType: string): Blob {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  const digest = sha256(buf);
  writeFileSync(join(dir, 'blobs/sha256', digest.slice(7)), buf);
  return { digest, size: buf.length, mediaType };
}

/**
 * An OCI image layout like a FROM-scratch buildx build: one index with a manifest per platform (each one
 * uncompressed tar layer made with /bin/tar, reproducibly) plus, optionally, a BuildKit-style attestation
 * manifest (platform unknown/unknown, annotated attestation-manifest).
 */
export function buildOciLayout(platforms: string[], opts: { attestation?: boolean; tag?: string } = {}): BuiltLayout {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-action-oci-'));
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const out: BuiltLayout = { dir, indexDigest: '', platforms: {}, layers: {}, configs: {}, attestations: [] };
  const entries: unknown[] = [];
  for (const platform of platforms) {
    const [os, architecture, variant] = platform.split('/');
    const root = mkdtempSync(join(tmpdir(), 'nitro-action-rootfs-'));
    writeFileSync(join(root, 'hello.txt'), `hello from ${platform}\n`);
    const tar = execFileSync('/bin/tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', '-', 'hello.txt']);
    rmSync(root, { recursive: true, force: true });
    const layer = writeBlob(dir, tar, 'application/vnd.oci.image.layer.v1.tar');
    const config = writeBlob(
      dir,
      JSON.stringify({ architecture, os, ...(variant ? { variant } : {}), rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }),
      'application/vnd.oci.image.config.v1+json',
    );
    const manifest = writeBlob(
      dir,
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }),
      'application/vnd.oci.image.manifest.v1+json',
    );
    out.platforms[platform] = manifest.digest;
    out.layers[platform] = layer;
    out.configs[platform] = config;
    entries.push({ ...manifest, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  }
  if (opts.attestation) {
    const first = platforms[0];
    const statement = writeBlob(dir, JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [] }), 'application/vnd.in-toto+json');
    const config = writeBlob(dir, JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] } }), 'application/vnd.oci.image.config.v1+json');
    const manifest = writeBlob(
      dir,
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [{ ...statement, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }] }),
      'application/vnd.oci.image.manifest.v1+json',
    );
    out.attestations.push(manifest.digest);
    entries.push({
      ...manifest,
      platform: { os: 'unknown', architecture: 'unknown' },
      annotations: { 'vnd.docker.reference.digest': out.platforms[first], 'vnd.docker.reference.type': 'attestation-manifest' },
    });
  }
  const index = writeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }), 'application/vnd.oci.image.index.v1+json');
  out.indexDigest = index.digest;
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'latest' } }] }),
  );
  return out;
}

/**
 * Pushes the layout's index (all platforms, digests preserved) to `host/name:tag` with skopeo. Credentials
 * go through a temporary auth file, never argv.
 */
export function skopeoPush(layout: BuiltLayout, target: string, tag = 'latest', creds?: { username: string; password: string }): void {
  const args = ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', '-q'];
  let authDir: string | undefined;
  if (creds) {
    authDir = mkdtempSync(join(tmpdir(), 'nitro-skopeo-auth-'));
    const host = target.slice(0, target.indexOf('/'));
    writeFileSync(join(authDir, 'auth.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } } }));
    args.push('--dest-authfile', join(authDir, 'auth.json'));
  }
  try {
    execFileSync('skopeo', [...args, `oci:${layout.dir}:${tag}`, `docker://${target}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    if (authDir) rmSync(authDir, { recursive: true, force: true });
  }
}

export function readLayoutBlob(layout: BuiltLayout, digest: string): Buffer {
  return readFileSync(join(layout.dir, 'blobs/sha256', digest.slice(7)));
}
