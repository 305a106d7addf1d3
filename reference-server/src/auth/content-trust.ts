/**
 * Content trust: a manifest in a repository with require_content_trust is served only when a cosign
 * signature for it VERIFIES against one of the repository's public keys.
 *
 * Where signatures are looked for (both as cosign writes them):
 *  - the referrers API: manifests whose subject is the digest and artifactType is the cosign signature type
 *    (or any referrer carrying simplesigning layers);
 *  - the fallback tag `sha256-<hex>.sig`.
 * A signature layer has media type application/vnd.dev.cosign.simplesigning.v1+json; its blob is the
 * signed payload, whose critical.image.docker-manifest-digest must equal the digest being served, and
 * its annotation dev.cosignproject.cosign/signature holds the base64 signature over the payload bytes
 * (ECDSA P-256/P-384 DER, RSA PKCS#1 v1.5 or PSS, Ed25519).
 *
 * Signatures themselves (and other signature manifests) stay readable so clients can verify them.
 * Children of a verified index (the per-platform manifests `docker pull` fetches next) are trusted for
 * a few minutes after the index was verified, since cosign signs the index only.
 */
import { createHash, createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import type { MetadataStore, ManifestRecord } from '../metadata/store.js';
import type { NitroRepository } from '../repositories/store.js';
import { RegistryError } from '../oci/errors.js';
import { isIndexType } from '../oci/media-types.js';

export const COSIGN_SIGNATURE_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const NOTARY_SIGNATURE = 'application/vnd.cncf.notary.signature';

/** Payload blobs above this are not read (a real cosign payload is a few hundred bytes). */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_CANDIDATES = 32;
const MAX_LAYERS = 32;
const CHILD_TRUST_MS = 10 * 60_000;

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: unknown;
}

function parseJson(body: Buffer): Record<string, unknown> | null {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const layersOf = (doc: Record<string, unknown> | null): Descriptor[] =>
  Array.isArray(doc?.layers) ? (doc!.layers as unknown[]).filter((l): l is Descriptor => typeof l === 'object' && l !== null) : [];

/** Notary v2 signature envelopes. */
const NOTARY_ENVELOPES = new Set(['application/jose+json', 'application/cose']);

/**
 * True for manifests that are signatures (cosign or Notary): they are always served. Decided by the layers,
 * never by `artifactType` alone — a pusher can put any artifactType on a runnable image, but a manifest
 * whose every layer is a signature payload or envelope has nothing to run.
 */
export function isSignatureManifest(m: ManifestRecord): boolean {
  const doc = parseJson(m.body);
  const layers = layersOf(doc);
  if (layers.length === 0) return false;
  if (layers.every((l) => l.mediaType === COSIGN_SIMPLESIGNING)) return true;
  return m.artifactType === NOTARY_SIGNATURE && layers.every((l) => typeof l.mediaType === 'string' && NOTARY_ENVELOPES.has(l.mediaType));
}

/** Verifies `signature` over `payload` with a PEM public key of any supported type. */
export function verifySignature(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    switch (key.asymmetricKeyType) {
      case 'ec': {
        const curve = key.asymmetricKeyDetails?.namedCurve;
        const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
        return verify(hash, payload, { key, dsaEncoding: 'der' }, signature);
      }
      case 'rsa':
        return (
          verify('sha256', payload, { key, padding: constants.RSA_PKCS1_PADDING }, signature) ||
          verify('sha256', payload, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature)
        );
      case 'rsa-pss':
        return verify('sha256', payload, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
      case 'ed25519':
        return verify(null, payload, key, signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

export type ReadSmallBlob = (digest: string) => Promise<Buffer>;

export class ContentTrust {
  /** `${repoId}|${repoVersion}|${name}@${digest}` → trusted until (ms). */
  private readonly trustedChildren = new Map<string, number>();

  constructor(
    private readonly meta: MetadataStore,
    private readonly readSmallBlob: ReadSmallBlob | undefined,
    private readonly repoVersion: () => number,
  ) {}

  /** Resolves when `name@digest` may be served from `repo`; throws DENIED otherwise. */
  async check(repo: NitroRepository, name: string, digest: string): Promise<void> {
    const manifest = await this.meta.getManifest(name, digest);
    if (!manifest || isSignatureManifest(manifest)) return;
    const childKey = `${repo.id}|${this.repoVersion()}|${name}@${digest}`;
    const until = this.trustedChildren.get(childKey);
    if (until !== undefined && until > Date.now()) return;

    const denied = (why: string): never => {
      throw new RegistryError('DENIED', `push rule require_content_trust: ${name}@${digest} is not served: ${why}`, {
        rule: 'require_content_trust',
        repository: repo.id,
        digest,
      });
    };
    const keys = (repo.config.content_trust?.public_keys ?? []).map((pem) => createPublicKey(pem));
    if (keys.length === 0) denied(`repository ${repo.id} trusts no public keys (set config.content_trust.public_keys)`);
    if (!this.readSmallBlob) denied('signature payloads cannot be read by this server');

    const candidates = await this.signatureManifests(name, digest);
    let checked = 0;
    for (const sig of candidates) {
      for (const layer of layersOf(parseJson(sig.body)).slice(0, MAX_LAYERS)) {
        if (layer.mediaType !== COSIGN_SIMPLESIGNING || typeof layer.digest !== 'string') continue;
        const annotations = (layer.annotations ?? {}) as Record<string, unknown>;
        const b64 = annotations[COSIGN_SIGNATURE_ANNOTATION];
        if (typeof b64 !== 'string' || typeof layer.size !== 'number' || layer.size > MAX_PAYLOAD_BYTES) continue;
        checked++;
        if (await this.verifyLayer(layer.digest, b64, digest, keys)) {
          this.trustChildren(repo, name, manifest);
          return;
        }
      }
    }
    denied(
      checked === 0
        ? 'it has no cosign signature (push one with `cosign sign`, as a referrer or the sha256-<hex>.sig tag)'
        : `none of its ${checked} signature(s) verifies with the repository's public keys`,
    );
  }

  private async signatureManifests(name: string, digest: string): Promise<ManifestRecord[]> {
    const out: ManifestRecord[] = [];
    for (const r of (await this.meta.referrers(name, digest)).slice(0, MAX_CANDIDATES)) {
      const m = await this.meta.getManifest(name, r.digest);
      if (m) out.push(m);
    }
    const [alg, hex] = digest.split(':');
    const tagged = await this.meta.resolveTag(name, `${alg}-${hex}.sig`);
    if (tagged && !out.some((m) => m.digest === tagged)) {
      const m = await this.meta.getManifest(name, tagged);
      if (m) out.push(m);
    }
    return out;
  }

  private async verifyLayer(payloadDigest: string, signatureB64: string, subject: string, keys: KeyObject[]): Promise<boolean> {
    let payload: Buffer;
    try {
      payload = await this.readSmallBlob!(payloadDigest);
    } catch {
      return false;
    }
    const [alg, hex] = payloadDigest.split(':');
    if ((alg !== 'sha256' && alg !== 'sha512') || createHash(alg).update(payload).digest('hex') !== hex) return false;
    const doc = parseJson(payload);
    const critical = doc?.critical as { image?: { 'docker-manifest-digest'?: unknown }; type?: unknown } | undefined;
    if (critical?.image?.['docker-manifest-digest'] !== subject) return false;
    if (critical.type !== undefined && critical.type !== 'cosign container image signature') return false;
    const signature = Buffer.from(signatureB64, 'base64');
    return keys.some((k) => verifySignature(k, payload, signature));
  }

  private trustChildren(repo: NitroRepository, name: string, index: ManifestRecord): void {
    if (!isIndexType(index.mediaType)) return;
    const children = (parseJson(index.body)?.manifests ?? []) as Descriptor[];
    const until = Date.now() + CHILD_TRUST_MS;
    if (this.trustedChildren.size > 50_000) this.trustedChildren.clear();
    for (const c of Array.isArray(children) ? children : []) {
      if (typeof c?.digest === 'string') this.trustedChildren.set(`${repo.id}|${this.repoVersion()}|${name}@${c.digest}`, until);
    }
  }
}
