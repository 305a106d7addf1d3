/**
 * Upload sessions: bytes arrive in one or more chunks and become a blob only when the client's digest
 * matches. The session's record (metadata store) holds its offset and the blob driver's state — the bytes'
 * location and the running hash — so the next chunk may land on any replica. One writer at a time per
 * session, across replicas: every chunk and the commit run under a lease taken in the metadata store.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { UPLOAD_ID_RE, type BlobStore, type BlobUpload } from '../storage/blob-store.js';
import type { BlobRecord, MetadataStore, UploadRecord } from '../metadata/store.js';
import type { SessionOwner, UploadQuota } from './upload-quota.js';

export interface ChunkOptions {
  /** Content-Range start, when the client sent one: must equal the session's offset. */
  readonly start?: number;
  /** Expected number of bytes (Content-Length or the Content-Range span). */
  readonly length?: number;
  readonly signal?: AbortSignal;
}

/** How long a chunk's lease lasts without renewal; renewed every third of it while the chunk streams. */
const LEASE_MS = 60_000;

export class UploadService {
  /** This process, as the holder of upload leases. */
  private readonly owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  /**
   * Uploads this replica last wrote to: when the next chunk lands here too, the driver object is reused
   * instead of re-opened from the persisted state. Valid only while its size equals the record's offset
   * (a chunk appended on another replica moves the offset past it).
   */
  private readonly recent = new Map<string, BlobUpload>();
  private inFlight = 0;

  constructor(
    private readonly blobs: BlobStore,
    private readonly meta: MetadataStore,
    /** Caps open sessions per account/address (none when absent: CLIs, GC). */
    private readonly quota?: UploadQuota,
  ) {}

  get uploadsInFlight(): number {
    return this.inFlight;
  }

  /** Opens a session; with an `owner` it counts against that owner's session caps (429 when over). */
  async start(repository: string, owner?: SessionOwner): Promise<UploadRecord> {
    if (owner) await this.quota?.admit(owner);
    const id = randomUUID();
    const upload = await this.blobs.startUpload(id);
    try {
      const rec = await this.meta.createUpload(id, repository, upload.state());
      this.remember(upload);
      if (owner) this.quota?.add(id, owner);
      return rec;
    } catch (e) {
      await upload.cancel().catch(() => undefined);
      throw e;
    }
  }

  /** The session, if it exists and belongs to `repository`. */
  async get(id: string, repository: string): Promise<UploadRecord> {
    const rec = UPLOAD_ID_RE.test(id) ? await this.meta.getUpload(id) : null;
    if (!rec || rec.repository !== repository) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    return rec;
  }

  /** Appends one chunk; returns the session as it is after. On any failure the session is left as it was. */
  async append(id: string, repository: string, body: Readable, opts: ChunkOptions = {}): Promise<UploadRecord> {
    return this.leased(id, repository, async (rec, upload) => {
      checkChunkStart(rec, opts);
      await this.appendTo(upload, body, opts);
      const state = upload.state();
      if (!(await this.meta.saveUpload(id, this.owner, state))) {
        this.recent.delete(id);
        throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload was taken over by another request while this chunk was written; check its status and resume');
      }
      return { ...rec, offset: state.size, state, updatedAt: Date.now() };
    });
  }

  /**
   * Finishes the session: appends the optional final chunk, checks `digest`, and commits the blob into
   * the repository. A digest mismatch ends the session (its bytes cannot become any other blob).
   */
  async complete(id: string, repository: string, digest: string, finalChunk: { body: Readable; opts: ChunkOptions } | null): Promise<BlobRecord> {
    if (!parseDigest(digest)) {
      finalChunk?.body.resume();
      throw new RegistryError('DIGEST_INVALID', 'digest parameter is missing or not a supported digest', { digest });
    }
    return this.leased(id, repository, async (rec, upload) => {
      if (finalChunk) {
        // A final chunk on PUT obeys the same Content-Range rule as a PATCH (416 when out of order).
        checkChunkStart(rec, finalChunk.opts);
        await this.appendTo(upload, finalChunk.body, finalChunk.opts);
      }
      let blob: BlobRecord;
      try {
        blob = await this.meta.commitBlob(digest, repository, () => upload.commit(digest));
      } catch (e) {
        // A digest mismatch has discarded the bytes: the session is over. Anything else (storage error)
        // leaves it resumable from its last saved state.
        if (e instanceof RegistryError && e.code === 'DIGEST_INVALID') await this.discard(id);
        throw e;
      }
      this.recent.delete(id);
      await this.meta.deleteUpload(id);
      this.quota?.release(id);
      return blob;
    });
  }

  /** Monolithic upload (POST ?digest=): a session with one chunk, completed at once. */
  async monolithic(repository: string, digest: string, body: Readable, opts: ChunkOptions): Promise<BlobRecord> {
    if (!parseDigest(digest)) {
      body.resume();
      throw new RegistryError('DIGEST_INVALID', 'digest parameter is not a supported digest', { digest });
    }
    const rec = await this.start(repository);
    try {
      return await this.complete(rec.id, repository, digest, { body, opts });
    } catch (e) {
      await this.discard(rec.id);
      throw e;
    }
  }

  async cancel(id: string, repository: string): Promise<void> {
    await this.get(id, repository);
    await this.discard(id);
  }

  /** Removes sessions idle since before `cutoff` (and not being written); returns how many. */
  async purgeStale(cutoff: number): Promise<number> {
    let n = 0;
    for (const rec of await this.meta.staleUploads(cutoff)) {
      const claimed = await this.meta.claimUpload(rec.id, this.owner, LEASE_MS);
      if (claimed === null || claimed === 'busy') continue;
      await this.discard(rec.id);
      n++;
    }
    return n;
  }

  private async discard(id: string): Promise<void> {
    this.recent.delete(id);
    this.quota?.release(id);
    await this.meta.deleteUpload(id);
    await this.blobs.deleteUpload(id);
  }

  private remember(upload: BlobUpload): void {
    if (this.recent.size >= 1000) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(upload.id, upload);
  }

  private async appendTo(upload: BlobUpload, body: Readable, opts: ChunkOptions): Promise<void> {
    this.inFlight++;
    try {
      await upload.append(body, {
        ...(opts.length !== undefined ? { length: opts.length } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Runs `fn` holding the session's lease (renewed while it runs), with the session's driver object.
   * The lease is released at the end whatever happened (saveUpload also releases it).
   */
  private async leased<T>(id: string, repository: string, fn: (rec: UploadRecord, upload: BlobUpload) => Promise<T>): Promise<T> {
    await this.get(id, repository);
    const rec = await this.meta.claimUpload(id, this.owner, LEASE_MS);
    if (rec === null) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { uuid: id });
    if (rec === 'busy') throw new RegistryError('BLOB_UPLOAD_INVALID', 'another chunk is being written to this upload');
    const renew = setInterval(() => {
      this.meta.renewUpload(id, this.owner, LEASE_MS).catch(() => undefined);
    }, LEASE_MS / 3);
    renew.unref();
    try {
      const cached = this.recent.get(id);
      let upload: BlobUpload;
      if (cached && cached.size === rec.offset) upload = cached;
      else {
        try {
          upload = await this.blobs.resumeUpload(id, rec.state);
        } catch (e) {
          if (e instanceof RegistryError && e.code === 'BLOB_UPLOAD_UNKNOWN') await this.meta.deleteUpload(id);
          throw e;
        }
      }
      this.remember(upload);
      return await fn(rec, upload);
    } finally {
      clearInterval(renew);
      await this.meta.releaseUpload(id, this.owner).catch(() => undefined);
    }
  }
}

/** The `Range` header of upload status responses: inclusive end, "0-0" for an empty upload (as Distribution). */
export const rangeHeader = (offset: number): string => `0-${Math.max(offset - 1, 0)}`;

export const uploadLocation = (repository: string, id: string): string => `/v2/${repository}/blobs/uploads/${id}`;

/** A chunk that names its start (Content-Range) must start where the session ends: else 416 with the session's Range. */
function checkChunkStart(rec: UploadRecord, opts: ChunkOptions): void {
  if (opts.start === undefined || opts.start === rec.offset) return;
  throw new RegistryError('RANGE_INVALID', `chunk starts at ${opts.start} but the upload has ${rec.offset} bytes`, undefined, {
    Range: rangeHeader(rec.offset),
    Location: uploadLocation(rec.repository, rec.id),
    'Docker-Upload-UUID': rec.id,
  });
}
