/**
 * An OCI content builder for tests, self-contained (node built-ins only; nothing from src/) so any suite
 * can reuse it: random blobs, FROM-scratch style tar layers (a tiny ustar writer, gzipped with zlib),
 * image configs, OCI image manifests and indexes, Docker schema2 manifests and manifest lists, artifact
 * manifests (artifactType + subject), and a writer of OCI image layout directories.
 *
 * Every manifest is a `Built`: its exact bytes (served verbatim by a registry, so tests compare bytes),
 * digest and media type, plus every blob and child manifest it needs, so it can be pushed in one go.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export type Algorithm = 'sha256' | 'sha512';

export interface Blob {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A manifest with everything needed to push it: blobs first, then child manifests, then itself. */
export interface Built extends Blob {
  readonly doc: Record<string, unknown>;
  /** Blobs this manifest references directly (config, layers); children carry their own. */
  readonly blobs: readonly Blob[];
  /** Child manifests (index entries), in order. */
  readonly children: readonly Built[];
  readonly platform?: Platform;
}

export function digestOf(bytes: Buffer | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export function blobOf(bytes: Buffer | string, mediaType = 'application/octet-stream', algorithm: Algorithm = 'sha256'): Blob {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return { bytes: buf, digest: digestOf(buf, algorithm), size: buf.length, mediaType };
}

export const randomBlob = (size: number, algorithm: Algorithm = 'sha256'): Blob => blobOf(randomBytes(size), 'application/octet-stream', algorithm);

export const descriptor = (b: Blob, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: b.mediaType,
  digest: b.digest,
  size: b.size,
  ...extra,
});

// --- tar (ustar) ----------------------------------------------------------------------------------------

export interface TarEntry {
  /** Relative path; directories end with '/'. */
  readonly path: string;
  readonly content?: Buffer | string;
  readonly mode?: number;
}

function octal(value: number, width: number): string {
  // width includes the trailing NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A reproducible ustar archive (mtime 0, uid/gid 0), like a FROM-scratch image layer. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.path.endsWith('/');
    const data = isDir ? Buffer.alloc(0) : Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '');
    if (Buffer.byteLength(e.path) > 100) throw new Error(`tar path too long for this writer: ${e.path}`);
    const h = Buffer.alloc(512);
    h.write(e.path, 0, 100, 'utf8');
    h.write(octal(e.mode ?? (isDir ? 0o755 : 0o644), 8), 100, 8, 'ascii');
    h.write(octal(0, 8), 108, 8, 'ascii'); // uid
    h.write(octal(0, 8), 116, 8, 'ascii'); // gid
    h.write(octal(data.length, 12), 124, 12, 'ascii');
    h.write(octal(0, 12), 136, 12, 'ascii'); // mtime
    h.write('        ', 148, 8, 'ascii'); // checksum placeholder: spaces
    h.write(isDir ? '5' : '0', 156, 1, 'ascii');
    h.write('ustar\0', 257, 6, 'ascii');
    h.write('00', 263, 2, 'ascii');
    h.write('root', 265, 32, 'ascii');
    h.write('root', 297, 32, 'ascii');
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    parts.push(h, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(parts);
}

export interface Layer extends Blob {
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids entry). */
  readonly diffId: string;
}

export function gzipLayer(entries: readonly TarEntry[], mediaType: string = MT.ociLayerGzip): Layer {
  const raw = tar(entries);
  const gz = gzipSync(raw, { level: 6 });
  return { ...blobOf(gz, mediaType), diffId: digestOf(raw) };
}

// --- images -------------------------------------------------------------------------------------------

export function imageConfig(platform: Platform, diffIds: readonly string[], mediaType: string = MT.ociConfig): Blob {
  const doc = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [{ created_by: 'nitro-registry test builder' }],
  };
  return blobOf(JSON.stringify(doc), mediaType);
}

/** Serialises a manifest document; `space` lets tests produce unusual (but valid) formatting. */
function built(doc: Record<string, unknown>, mediaType: string, blobs: Blob[], children: Built[], opts: BuildOpts = {}): Built {
  const text = opts.serialize ? opts.serialize(doc) : JSON.stringify(doc, null, 2);
  return { ...blobOf(text, mediaType, opts.algorithm), doc, blobs, children, ...(opts.platform ? { platform: opts.platform } : {}) };
}

export interface BuildOpts {
  readonly algorithm?: Algorithm;
  /** Custom serialisation of the manifest document (odd whitespace, key order...). */
  readonly serialize?: (doc: Record<string, unknown>) => string;
  readonly platform?: Platform;
}

export interface ImageOpts extends BuildOpts {
  readonly platform?: Platform;
  /** Files of the single layer; default: /hello naming the platform. */
  readonly files?: readonly TarEntry[];
  readonly annotations?: Record<string, string>;
  readonly subject?: Built | Descriptor;
  readonly artifactType?: string;
}

const LINUX_AMD64: Platform = { os: 'linux', architecture: 'amd64' };

const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new Error(`bad platform ${s}`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

const defaultFiles = (p: Platform): TarEntry[] => [
  { path: 'etc/' },
  { path: 'etc/platform', content: `${platformName(p)}\n` },
  { path: 'hello', content: `#!/bin/sh\necho hello from ${platformName(p)}\n`, mode: 0o755 },
];

const subjectDescriptor = (s: Built | Descriptor): Descriptor => ('bytes' in s ? descriptor(s) : s);

/** An OCI image manifest: one gzipped layer, one config. */
export function ociImage(opts: ImageOpts = {}): Built {
  const platform = opts.platform ?? LINUX_AMD64;
  const layer = gzipLayer(opts.files ?? defaultFiles(platform));
  const config = imageConfig(platform, [layer.diffId]);
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: descriptor(config),
    layers: [descriptor(layer)],
    ...(opts.subject ? { subject: subjectDescriptor(opts.subject) } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return built(doc, MT.ociManifest, [config, layer], [], { ...opts, platform });
}

/** A Docker schema2 image manifest. */
export function dockerImage(opts: ImageOpts = {}): Built {
  const platform = opts.platform ?? LINUX_AMD64;
  const layer = gzipLayer(opts.files ?? defaultFiles(platform), MT.dockerLayerGzip);
  const config = imageConfig(platform, [layer.diffId], MT.dockerConfig);
  const doc = { schemaVersion: 2, mediaType: MT.dockerManifest, config: descriptor(config), layers: [descriptor(layer)] };
  return built(doc, MT.dockerManifest, [config, layer], [], { ...opts, platform });
}

function indexOf(mediaType: string, children: Built[], opts: BuildOpts & { annotations?: Record<string, string> } = {}): Built {
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => descriptor(c, c.platform ? { platform: c.platform } : {})),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return built(doc, mediaType, [], children, opts);
}

export const ociIndex = (children: Built[], opts: BuildOpts & { annotations?: Record<string, string> } = {}): Built =>
  indexOf(MT.ociIndex, children, opts);

export const dockerList = (children: Built[], opts: BuildOpts = {}): Built => indexOf(MT.dockerList, children, opts);

/** A multi-platform OCI index (default linux/amd64 + linux/arm64), FROM-scratch style images. */
export function multiPlatformIndex(platforms: readonly string[] = ['linux/amd64', 'linux/arm64'], opts: BuildOpts = {}): Built {
  return ociIndex(platforms.map((p) => ociImage({ platform: parsePlatform(p) })), opts);
}

export interface ArtifactOpts extends BuildOpts {
  readonly artifactType: string;
  readonly subject?: Built | Descriptor;
  /** Layer blobs; default: one small random blob. */
  readonly layers?: readonly Blob[];
  readonly annotations?: Record<string, string>;
}

/** An OCI 1.1 artifact: artifactType set, empty config (application/vnd.oci.empty.v1+json), optional subject. */
export function artifact(opts: ArtifactOpts): Built {
  const config = blobOf('{}', MT.ociEmpty);
  const layers = opts.layers ?? [blobOf(randomBytes(64), 'application/vnd.nitro.test.payload')];
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    artifactType: opts.artifactType,
    config: descriptor(config),
    layers: layers.map((l) => descriptor(l)),
    ...(opts.subject ? { subject: subjectDescriptor(opts.subject) } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  return built(doc, MT.ociManifest, [config, ...layers], [], opts);
}

/** Every blob the manifest tree needs (deduplicated), children's first. */
export function allBlobs(m: Built): Blob[] {
  const seen = new Map<string, Blob>();
  const walk = (x: Built) => {
    for (const c of x.children) walk(c);
    for (const b of x.blobs) seen.set(b.digest, b);
  };
  walk(m);
  return [...seen.values()];
}

/** Every manifest of the tree in push order (children before parents). */
export function allManifests(m: Built): Built[] {
  const out: Built[] = [];
  const walk = (x: Built) => {
    for (const c of x.children) walk(c);
    if (!out.some((o) => o.digest === x.digest)) out.push(x);
  };
  walk(m);
  return out;
}

// --- OCI image layout ---------------------------------------------------------------------------------

/**
 * Writes an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>) holding `root` and everything
 * it needs. index.json has one entry for `root`, annotated with `refName` when given.
 */
export function writeOciLayout(dir: string, root: Built, opts: { refName?: string } = {}): void {
  const write = (b: Blob) => {
    const [alg, hex] = b.digest.split(':') as [string, string];
    mkdirSync(join(dir, 'blobs', alg), { recursive: true });
    writeFileSync(join(dir, 'blobs', alg, hex), b.bytes);
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const b of allBlobs(root)) write(b);
  for (const m of allManifests(root)) write(m);
  const entry = descriptor(root, opts.refName ? { annotations: { 'org.opencontainers.image.ref.name': opts.refName } } : {});
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [entry] }));
}
