import { ActionError } from '../errors.js';
import { getBlobJson, RegistryError, type FetchedManifest, type RegistryClient } from '../registry/client.js';
import { parseImageRef, repositoryName, type ImageRef } from '../registry/image-ref.js';
import {
  ATTESTATION_REFERENCE_ANNOTATION,
  isAttestation,
  isImageManifestType,
  isIndexType,
  type Descriptor,
  type ImageManifest,
  type IndexManifest,
  type Platform,
} from '../registry/media-types.js';
import { mapLimit } from './map-limit.js';
import { formatPlatform, samePlatform } from './platform.js';
import type { TagResult, VerifyFailure, VerifyReport } from './report.js';

export interface VerifyRequest {
  /** Image references to check: `host/repo:tag` (or `host/repo@digest`). */
  images: string[];
  /** The digest that was pushed; when absent, the first tag's digest is taken as the truth. */
  expectedDigest?: string;
  /** Platforms the index must list, e.g. `linux/amd64`, `linux/arm64`. Empty: no requirement. */
  platforms: string[];
  /** Download every blob and check its digest instead of HEAD. */
  pull: boolean;
  /** Re-point a tag that resolves to a child manifest of the expected index (buildx double-push race). */
  repair: boolean;
}

export interface VerifyDeps {
  clientFor(host: string): RegistryClient;
  log(message: string): void;
}

const BLOB_CONCURRENCY = 4;

/** Checks that what landed in the registry is what was pushed. Never throws for content problems: they are failures in the report. */
export async function verifyImages(request: VerifyRequest, deps: VerifyDeps): Promise<VerifyReport> {
  const started = Date.now();
  const report: VerifyReport = {
    ok: true,
    digest: request.expectedDigest,
    mediaType: undefined,
    requestedPlatforms: request.platforms,
    pulled: request.pull,
    tags: [],
    platforms: [],
    attestations: [],
    failures: [],
    warnings: [],
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
  };
  if (request.images.length === 0) throw new ActionError('INVALID_INPUT', 'nothing to verify: no image references given');

  const groups = new Map<string, ImageRef[]>();
  for (const image of request.images) {
    const ref = parseImageRef(image);
    const key = repositoryName(ref);
    groups.set(key, [...(groups.get(key) ?? []), ref]);
  }
  for (const [name, refs] of groups) {
    try {
      await verifyRepository(name, refs, request, deps, report);
    } catch (err) {
      // Auth and network errors stop this repository's checks but still produce a report.
      if (!(err instanceof RegistryError)) throw err;
      report.failures.push({ code: err.code, message: `${name}: ${err.message}`, image: name });
    }
  }
  report.ok = report.failures.length === 0;
  report.durationMs = Date.now() - started;
  return report;
}

async function verifyRepository(name: string, refs: ImageRef[], request: VerifyRequest, deps: VerifyDeps, report: VerifyReport): Promise<void> {
  const { host, repository } = refs[0];
  const client = deps.clientFor(host);
  const fail = (f: VerifyFailure) => {
    report.failures.push(f);
  };
  let expected = request.expectedDigest ?? refs.find((r) => r.digest)?.digest;

  const resolvedTags: { ref: ImageRef; manifest: FetchedManifest | undefined }[] = [];
  for (const ref of refs) {
    if (!ref.tag) continue;
    deps.log(`Resolving ${name}:${ref.tag}`);
    resolvedTags.push({ ref, manifest: await client.getManifest(repository, ref.tag, { notFoundMayBeLag: true }) });
  }
  if (!expected) {
    expected = resolvedTags.find((t) => t.manifest)?.manifest?.digest;
    if (expected) report.warnings.push(`${name}: no expected digest given; taking ${expected} (what the first tag resolves to) as the truth`);
  }
  if (!report.digest) report.digest = expected;
  if (!expected) {
    for (const t of resolvedTags) fail({ code: 'TAG_MISSING', message: `${name}:${t.ref.tag} does not exist`, image: `${name}:${t.ref.tag}` });
    report.tags.push(...resolvedTags.map((t) => tagResult(name, repository, t.ref.tag!, undefined, undefined, false)));
    return;
  }

  const top = await client.getManifest(repository, expected, { notFoundMayBeLag: true });
  if (!top) {
    fail({ code: 'MANIFEST_MISSING', message: `${name}@${expected} (the pushed digest) does not exist in the registry`, image: name });
  } else if (top.digest !== expected) {
    fail({ code: 'MANIFEST_DIGEST_MISMATCH', message: `${name}@${expected}: served bytes hash to ${top.digest}`, image: name });
  }
  const topJson = top ? (JSON.parse(top.bytes.toString('utf8')) as Partial<IndexManifest & ImageManifest>) : undefined;
  const topType = topJson?.mediaType ?? top?.mediaType;
  report.mediaType ??= topType;
  const children = isIndexType(topType) ? (topJson?.manifests ?? []).map((d) => d.digest) : [];

  for (const { ref, manifest } of resolvedTags) {
    const image = `${name}:${ref.tag}`;
    if (!manifest) {
      fail({ code: 'TAG_MISSING', message: `${image} does not exist (expected ${expected})`, image });
      report.tags.push(tagResult(name, repository, ref.tag!, expected, undefined, false));
      continue;
    }
    if (manifest.digest === expected) {
      report.tags.push(tagResult(name, repository, ref.tag!, expected, manifest.digest, true));
      continue;
    }
    const code = children.includes(manifest.digest) ? 'TAG_ON_CHILD' : 'TAG_MISMATCH';
    const detail = `${image} resolves to ${manifest.digest}${code === 'TAG_ON_CHILD' ? ' (a platform manifest of the index)' : ''}, expected ${expected}`;
    // Only the buildx double-push trap is repaired: a tag moved elsewhere (TAG_MISMATCH) may be someone
    // else's deliberate push, and silently moving it back would revert their work.
    if (request.repair && code === 'TAG_ON_CHILD' && top && topType && top.digest === expected) {
      deps.log(`Repairing ${image}: re-pointing it at ${expected}`);
      await client.putManifest(repository, ref.tag!, top.bytes, topType);
      const after = await client.getManifest(repository, ref.tag!, { notFoundMayBeLag: true });
      if (after?.digest === expected) {
        report.warnings.push(`${detail}; repaired: the tag now points at ${expected}`);
        report.tags.push({ ...tagResult(name, repository, ref.tag!, expected, expected, true), resolvedBeforeRepair: manifest.digest, repaired: true });
        continue;
      }
      fail({ code, message: `${detail}; repair failed: the tag still resolves to ${after?.digest ?? 'nothing'}`, image });
    } else {
      fail({ code, message: detail, image });
    }
    report.tags.push(tagResult(name, repository, ref.tag!, expected, manifest.digest, false));
  }

  if (top && topJson && top.digest === expected) {
    await verifyContent(name, repository, top, topJson, topType, request, client, deps, report);
  }
}

function tagResult(name: string, repository: string, tag: string, expected: string | undefined, resolved: string | undefined, ok: boolean): TagResult {
  return { image: `${name}:${tag}`, repository: name, tag, expected, resolved, repaired: false, ok };
}

async function verifyContent(
  name: string,
  repository: string,
  top: FetchedManifest,
  json: Partial<IndexManifest & ImageManifest>,
  mediaType: string | undefined,
  request: VerifyRequest,
  client: RegistryClient,
  deps: VerifyDeps,
  report: VerifyReport,
): Promise<void> {
  const blobCache = new Map<string, Promise<VerifyFailure | undefined>>();
  const checker = { name, repository, request, client, deps, report, blobCache };
  if (isIndexType(mediaType)) {
    const seen = new Set<string>();
    // One OCI export listed the same attestation twice: check each digest once.
    const entries = (json.manifests ?? []).filter((d) => !seen.has(d.digest) && seen.add(d.digest));
    const images = entries.filter((d) => !isAttestation(d));
    const attestations = entries.filter(isAttestation);
    for (const wanted of request.platforms) {
      if (!images.some((d) => d.platform && samePlatform(wanted, d.platform))) {
        const listed = images.map((d) => (d.platform ? formatPlatform(d.platform) : d.digest)).join(', ') || 'nothing';
        report.failures.push({
          code: 'PLATFORM_MISSING',
          message: `${name}@${top.digest}: platform ${wanted} is not in the index (it lists ${listed}${attestations.length ? ` and ${attestations.length} attestation manifest(s)` : ''})`,
          image: name,
          platform: wanted,
        });
      }
    }
    for (const d of images) {
      const platform = d.platform ? formatPlatform(d.platform) : 'unknown';
      const result = await checkImageManifest(checker, d, platform);
      report.platforms.push({ repository: name, platform, digest: d.digest, mediaType: d.mediaType, ...result });
    }
    for (const d of attestations) {
      const refersTo = d.annotations?.[ATTESTATION_REFERENCE_ANNOTATION];
      const described = images.find((i) => i.digest === refersTo)?.platform;
      const label = `attestation${described ? ` for ${formatPlatform(described)}` : ''}`;
      const result = await checkImageManifest(checker, d, label);
      report.attestations.push({ repository: name, digest: d.digest, refersTo, platform: described ? formatPlatform(described) : undefined, ok: result.ok });
    }
  } else if (isImageManifestType(mediaType)) {
    const config = json.config;
    const cfg = config ? ((await getBlobJson(client, repository, config.digest)) as Partial<Platform> | undefined) : undefined;
    const platform = cfg?.os && cfg.architecture ? formatPlatform({ os: cfg.os, architecture: cfg.architecture, variant: cfg.variant }) : 'unknown';
    for (const wanted of request.platforms) {
      if (!cfg?.os || !cfg.architecture || !samePlatform(wanted, { os: cfg.os, architecture: cfg.architecture, variant: cfg.variant })) {
        report.failures.push({ code: 'PLATFORM_MISSING', message: `${name}@${top.digest}: platform ${wanted} requested, but the image is a single-platform manifest for ${platform}`, image: name, platform: wanted });
      }
    }
    const result = await checkBlobs(checker, json as ImageManifest, platform);
    report.platforms.push({ repository: name, platform, digest: top.digest, mediaType, ...result });
  } else {
    report.failures.push({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `${name}@${top.digest}: media type ${mediaType ?? '(none)'}`, image: name });
  }
}

interface Checker {
  name: string;
  repository: string;
  request: VerifyRequest;
  client: RegistryClient;
  deps: VerifyDeps;
  report: VerifyReport;
  blobCache: Map<string, Promise<VerifyFailure | undefined>>;
}

interface ContentResult {
  blobs: number;
  bytes: number;
  ok: boolean;
}

async function checkImageManifest(c: Checker, d: Descriptor, platform: string): Promise<ContentResult> {
  const where = `${c.name}@${d.digest} (platform ${platform})`;
  const m = await c.client.getManifest(c.repository, d.digest, { notFoundMayBeLag: true });
  if (!m) {
    c.report.failures.push({ code: 'MANIFEST_MISSING', message: `${where}: manifest is missing`, image: c.name, platform });
    return { blobs: 0, bytes: 0, ok: false };
  }
  let ok = true;
  if (m.digest !== d.digest) {
    c.report.failures.push({ code: 'MANIFEST_DIGEST_MISMATCH', message: `${where}: served bytes hash to ${m.digest}`, image: c.name, platform });
    ok = false;
  }
  if (m.bytes.length !== d.size) {
    c.report.failures.push({ code: 'MANIFEST_SIZE_MISMATCH', message: `${where}: manifest is ${m.bytes.length} bytes, the index declares ${d.size}`, image: c.name, platform });
    ok = false;
  }
  const json = JSON.parse(m.bytes.toString('utf8')) as Partial<ImageManifest>;
  const type = json.mediaType ?? m.mediaType;
  if (!isImageManifestType(type) || !json.config) {
    c.report.failures.push({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `${where}: expected an image manifest, got ${type ?? '(none)'}`, image: c.name, platform });
    return { blobs: 0, bytes: 0, ok: false };
  }
  const result = await checkBlobs(c, json as ImageManifest, platform);
  return { ...result, ok: ok && result.ok };
}

async function checkBlobs(c: Checker, manifest: ImageManifest, platform: string): Promise<ContentResult> {
  const blobs = [{ kind: 'config', d: manifest.config }, ...(manifest.layers ?? []).map((d) => ({ kind: 'layer', d }))];
  const failures = await mapLimit(blobs, BLOB_CONCURRENCY, ({ kind, d }) => {
    let pending = c.blobCache.get(d.digest);
    if (!pending) {
      pending = checkBlob(c, kind, d);
      c.blobCache.set(d.digest, pending);
    }
    return pending.then((f): VerifyFailure | undefined => (f ? { ...f, platform, message: `${c.name}, platform ${platform}: ${f.message}` } : undefined));
  });
  const found = failures.filter((f): f is VerifyFailure => f !== undefined);
  c.report.failures.push(...found);
  return { blobs: blobs.length, bytes: blobs.reduce((sum, b) => sum + (b.d.size ?? 0), 0), ok: found.length === 0 };
}

async function checkBlob(c: Checker, kind: string, d: Descriptor): Promise<VerifyFailure | undefined> {
  const what = `${kind} ${d.digest} (${d.size} bytes)`;
  const base = { image: c.name, blob: d.digest };
  if (c.request.pull) {
    const got = await c.client.hashBlob(c.repository, d.digest);
    if (got.status === 404) return { ...base, code: 'BLOB_MISSING', message: `${what} is missing: GET answered 404` };
    if (got.status !== 200) return { ...base, code: 'REGISTRY_ERROR', message: `${what}: GET answered ${got.status}` };
    if (got.digest !== d.digest) return { ...base, code: 'BLOB_DIGEST_MISMATCH', message: `${what}: downloaded content hashes to ${got.digest}` };
    if (got.size !== d.size) return { ...base, code: 'BLOB_SIZE_MISMATCH', message: `${what}: downloaded ${got.size} bytes` };
    return undefined;
  }
  const head = await c.client.headBlob(c.repository, d.digest);
  if (head.status === 404) return { ...base, code: 'BLOB_MISSING', message: `${what} is missing: HEAD answered 404` };
  if (head.status !== 200) return { ...base, code: 'REGISTRY_ERROR', message: `${what}: HEAD answered ${head.status}` };
  if (head.size !== undefined && head.size !== d.size) return { ...base, code: 'BLOB_SIZE_MISMATCH', message: `${what}: the registry reports ${head.size} bytes` };
  if (head.size === undefined) c.report.warnings.push(`${c.name}: HEAD ${d.digest} sent no Content-Length; size not checked`);
  return undefined;
}
