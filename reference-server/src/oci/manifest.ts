/**
 * Parses and validates a manifest body on PUT, and extracts what the registry must know about it: its
 * media type, what it references (must exist in the repository), its subject and artifact type (referrers).
 * The bytes themselves are stored and served verbatim; nothing here re-serialises them.
 */
import { RegistryError } from './errors.js';
import { parseDigest } from './digest.js';
import { MediaType, MANIFEST_MEDIA_TYPES, isIndexType } from './media-types.js';
import type { Attachment, ManifestReference } from '../metadata/store.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ParsedManifest {
  readonly mediaType: string;
  readonly references: ManifestReference[];
  readonly subject: string | null;
  readonly artifactType: string | null;
  readonly annotations: Record<string, string> | null;
  /** An in-toto attestation manifest (BuildKit provenance/SBOM): every layer is an in-toto statement. */
  readonly attestation: boolean;
}

/** Layers that live elsewhere by design: a registry must not require them (Docker/OCI "foreign" layers). */
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

const IN_TOTO = 'application/vnd.in-toto+json';

const invalid = (message: string, detail?: unknown): RegistryError => new RegistryError('MANIFEST_INVALID', message, detail);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} is not a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType is missing`);
  if (typeof digest !== 'string' || !parseDigest(digest)) throw invalid(`${where}.digest is not a valid digest`, { digest });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size is not a non-negative integer`);
  return v as unknown as Descriptor;
}

function annotationsOf(v: unknown): Record<string, string> | null {
  if (!isObject(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * @param body raw bytes as received
 * @param contentType the request's Content-Type (may be empty)
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest is not a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('only schemaVersion 2 manifests are supported', { schemaVersion: doc.schemaVersion });

  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  const headerIsManifestType = header !== undefined && MANIFEST_MEDIA_TYPES.has(header);
  if (declared !== undefined && headerIsManifestType && declared !== header) {
    throw invalid('Content-Type does not match the manifest mediaType', { contentType: header, mediaType: declared });
  }
  // OCI manifests may omit mediaType; infer it from the shape when neither says.
  const inferred = Array.isArray(doc.manifests) ? MediaType.OciIndex : isObject(doc.config) ? MediaType.OciManifest : undefined;
  const mediaType = declared ?? (headerIsManifestType ? header : inferred);
  if (!mediaType || !MANIFEST_MEDIA_TYPES.has(mediaType)) {
    throw invalid('unsupported manifest media type', { mediaType: mediaType ?? header ?? null });
  }

  const references: ManifestReference[] = [];
  let artifactType: string | null = typeof doc.artifactType === 'string' ? doc.artifactType : null;
  let attestation = false;

  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('index has no manifests array');
    doc.manifests.forEach((m, i) => {
      const d = descriptor(m, `manifests[${i}]`);
      const describes = attachmentOf(d);
      references.push({ digest: d.digest, kind: 'manifest', ...(describes ? { describes } : {}) });
    });
  } else {
    const config = descriptor(doc.config, 'config');
    references.push({ digest: config.digest, kind: 'blob' });
    if (doc.layers !== undefined && !Array.isArray(doc.layers)) throw invalid('layers is not an array');
    const layers = (doc.layers as unknown[] | undefined) ?? [];
    if (mediaType === MediaType.DockerManifest && layers.length === 0) throw invalid('a Docker image manifest needs at least one layer');
    let inToto = 0;
    layers.forEach((l, i) => {
      const d = descriptor(l, `layers[${i}]`);
      if (!FOREIGN_LAYER_TYPES.has(d.mediaType)) references.push({ digest: d.digest, kind: 'blob' });
      if (d.mediaType === IN_TOTO) inToto++;
    });
    attestation = layers.length > 0 && inToto === layers.length;
    // The referrers API reports the config media type when artifactType is absent (spec: "Listing Referrers").
    if (artifactType === null && mediaType === MediaType.OciManifest) artifactType = config.mediaType;
  }

  let subject: string | null = null;
  if (doc.subject !== undefined) subject = descriptor(doc.subject, 'subject').digest;

  // Deduplicate: the same layer may appear twice (it happens with buildx attestation indexes).
  const seen = new Set<string>();
  const unique = references.filter((r) => {
    const key = `${r.kind}:${r.digest}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { mediaType, references: unique, subject, artifactType, annotations: annotationsOf(doc.annotations), attestation };
}

const REFERENCE_TYPE = 'vnd.docker.reference.type';
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

/**
 * A BuildKit attestation entry of an index (type attestation-manifest, digest of the platform manifest
 * it describes) as an index-attached referrer. Its artifactType is in-toto's media type; enrichWithChild
 * adds what only the child manifest knows (the predicate types).
 */
function attachmentOf(d: Descriptor): Attachment | null {
  const a = annotationsOf(d.annotations);
  if (!a || a[REFERENCE_TYPE] !== 'attestation-manifest') return null;
  const subject = a[REFERENCE_DIGEST];
  if (subject === undefined || !parseDigest(subject)) return null;
  return { subject, artifactType: typeof d.artifactType === 'string' ? d.artifactType : IN_TOTO, annotations: a };
}

/**
 * Completes an attachment from its child manifest's bytes: an in-toto attestation names its statements'
 * predicate types (https://slsa.dev/provenance/v0.2, https://spdx.dev/Document…) in its layers'
 * `in-toto.io/predicate-type` annotations; they are what a client filters provenance from SBOM by.
 */
export function enrichAttachment(a: Attachment, childBody: Buffer | null): Attachment {
  if (!childBody || !isAttestationManifest(childBody)) return a;
  const doc = JSON.parse(childBody.toString('utf8')) as { layers: { annotations?: unknown }[] };
  const predicates = [...new Set(doc.layers.map((l) => annotationsOf(l.annotations)?.[PREDICATE_TYPE]).filter((p): p is string => p !== undefined))];
  if (predicates.length === 0) return a;
  return { ...a, annotations: { ...(a.annotations ?? {}), [PREDICATE_TYPE]: predicates.join(',') } };
}

const PREDICATE_TYPE = 'in-toto.io/predicate-type';

/** The attachment entries of a stored index (database migrations); none when the body is not an index. */
export function attachmentsOfIndex(body: Buffer, mediaType: string): (ManifestReference & { describes: Attachment })[] {
  try {
    return parseManifest(body, mediaType).references.filter((r): r is ManifestReference & { describes: Attachment } => r.describes !== undefined);
  } catch {
    return [];
  }
}

/** True for an in-toto attestation manifest (BuildKit provenance/SBOM): an image manifest whose every layer is an in-toto statement. */
export function isAttestationManifest(body: Buffer): boolean {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { layers?: unknown };
    return Array.isArray(doc.layers) && doc.layers.length > 0 && doc.layers.every((l) => isObject(l) && l.mediaType === IN_TOTO);
  } catch {
    return false;
  }
}
