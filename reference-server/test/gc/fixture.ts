/** An in-process registry core on a temp dir with a controllable clock, for GC unit tests. */
import { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { openSqliteBackend } from '../../src/metadata/sqlite/index.js';
import { UploadService } from '../../src/registry/uploads.js';
import { GarbageCollector, type GcDeps } from '../../src/gc/collector.js';
import { parseGcConfig } from '../../src/gc/policy.js';
import { StatsService } from '../../src/gc/stats.js';
import { digestOf, parseDigest } from '../../src/oci/digest.js';
import { parseManifest } from '../../src/oci/manifest.js';
import type { GcStore } from '../../src/metadata/gc-store.js';
import type { DeleteOutcome } from '../../src/metadata/store.js';

export interface Image {
  digest: string;
  blobs: string[];
  size: number;
}

const MUTABLE = { immutableTags: false };
const ok = (o: DeleteOutcome) => o.ok;

export async function makeFixture(dir: string, opts: { gcConfig?: Record<string, unknown>; wrapGcStore?: (m: GcStore) => GcStore } = {}) {
  let clock = Date.now(); // real time: blob files carry real mtimes (orphan sweep)
  const now = () => clock;
  const blobs = new FsBlobStore(dir);
  await blobs.init();
  const backend = openSqliteBackend(dir, { now });
  const { db } = backend;
  const meta = backend.registry;
  const uploads = new UploadService(blobs, meta);
  const rawGcStore = backend.gc;
  const gcStore = opts.wrapGcStore ? opts.wrapGcStore(rawGcStore) : rawGcStore;
  const deps: GcDeps = {
    gcStore,
    meta,
    blobs,
    purgeUploads: (cutoff) => uploads.purgeStale(cutoff),
    uploadTtlSeconds: 3600,
    config: parseGcConfig(opts.gcConfig ?? {}),
    now,
  };
  const gc = new GarbageCollector(deps);
  const stats = new StatsService(rawGcStore);
  let counter = 0;

  const blobPath = (digest: string) => {
    const d = parseDigest(digest)!;
    return join(dir, 'blobs', d.algorithm, d.hex.slice(0, 2), d.hex);
  };

  async function pushBlob(repo: string, content: string | Buffer): Promise<string> {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const digest = digestOf(buf);
    await uploads.monolithic(repo, digest, Readable.from([buf]), { length: buf.length });
    return digest;
  }

  async function putManifest(repo: string, doc: object, tag: string | null): Promise<{ digest: string; missing: string[] }> {
    const body = Buffer.from(JSON.stringify(doc));
    const parsed = parseManifest(body, undefined);
    const digest = digestOf(body);
    const r = await meta.putManifest(
      {
        repository: repo,
        digest,
        mediaType: parsed.mediaType,
        body,
        subject: parsed.subject,
        artifactType: parsed.artifactType,
        annotations: parsed.annotations,
        references: parsed.references,
        attestation: parsed.attestation,
      },
      tag === null ? [] : [tag],
      MUTABLE,
    );
    return { digest, missing: r.missing.map((m) => m.digest) };
  }

  /** Uploads the layers (and a unique config) and puts an image manifest. */
  async function image(repo: string, tag: string | null, layers: string[], extra: { subject?: Image; artifactType?: string } = {}): Promise<Image> {
    const config = await pushBlob(repo, `config ${++counter} ${layers.join(',')}`);
    const layerDigests: string[] = [];
    for (const l of layers) layerDigests.push(await pushBlob(repo, l));
    const doc = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...(extra.artifactType ? { artifactType: extra.artifactType } : {}),
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1 },
      layers: layerDigests.map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 1 })),
      ...(extra.subject ? { subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: extra.subject.digest, size: extra.subject.size } } : {}),
    };
    const { digest, missing } = await putManifest(repo, doc, tag);
    if (missing.length > 0) throw new Error(`missing ${missing.join(',')}`);
    return { digest, blobs: [config, ...layerDigests], size: Buffer.byteLength(JSON.stringify(doc)) };
  }

  async function index(repo: string, tag: string | null, children: Image[]): Promise<Image> {
    const doc = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: children.map((c) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: c.digest, size: c.size })),
    };
    const { digest, missing } = await putManifest(repo, doc, tag);
    if (missing.length > 0) throw new Error(`missing ${missing.join(',')}`);
    return { digest, blobs: [], size: Buffer.byteLength(JSON.stringify(doc)) };
  }

  /** True when the blob has its record AND its file. */
  const blobStored = async (digest: string) => (await meta.getBlob(digest)) !== null && existsSync(blobPath(digest));
  /** True when neither the record nor the file is left. */
  const blobGone = async (digest: string) => (await meta.getBlob(digest)) === null && !existsSync(blobPath(digest));

  return {
    dir,
    db,
    meta,
    blobs,
    uploads,
    gcStore: rawGcStore,
    gc,
    /** Deletes with the rules of a mutable repository; true when something was deleted. */
    deleteTag: async (repo: string, tag: string) => ok(await meta.deleteTag(repo, tag, MUTABLE)),
    deleteManifest: async (repo: string, digest: string) => ok(await meta.deleteManifest(repo, digest, MUTABLE)),
    unlinkBlob: async (repo: string, digest: string) => ok(await meta.unlinkBlob(repo, digest, MUTABLE)),
    /** Records a blob and links it, as a finished upload does (the bytes are assumed in place). */
    addBlobAndLink: (digest: string, size: number, repo: string) => meta.commitBlob(digest, repo, async () => ({ size })),
    stats,
    pushBlob,
    putManifest,
    image,
    index,
    blobPath,
    blobStored,
    blobGone,
    advance: (seconds: number) => {
      clock += seconds * 1000;
    },
    now,
    close: () => backend.close(),
  };
}

export type Fixture = Awaited<ReturnType<typeof makeFixture>>;
