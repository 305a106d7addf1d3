/**
 * BlobStore on an S3-compatible bucket (AWS S3, Ceph RGW, MinIO, R2, GCS interop…), shared by any number
 * of replicas. Key layout in keys.ts; upload sessions in upload.ts and state.ts.
 *
 * What makes it safe to share: blobs are written once under their digest, by a single CopyObject or
 * PutObject that creates the object whole (never a partial blob, whatever crashes); an upload session
 * lives entirely in the bucket (parts, tail, state), so any replica continues it; deletes come only from
 * GC under the metadata store's lock (blob-store.ts).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { ConfigError } from '../../config.js';
import type { BlobStore, BlobUpload, ByteRange, OpenedBlob, StoredBlob, UploadState } from '../blob-store.js';
import { ResumableHash } from '../resumable-hash.js';
import { makeS3Client, type S3Settings } from './config.js';
import { S3Keys } from './keys.js';
import { S3Reads } from './reads.js';
import { emptySession, parseSession, unknown, type PartRef, type SessionState } from './state.js';
import { TailCache } from './tail-cache.js';
import { S3Upload } from './upload.js';

const OCTET = 'application/octet-stream';

export interface S3BlobStoreOptions {
  readonly log?: Logger;
  /** Objects larger than this are copied part by part (CopyObject's limit is 5 GiB). Tests lower it. */
  readonly maxCopySize?: number;
  /** Bytes per UploadPartCopy range for those. */
  readonly copyPartSize?: number;
  /** Injected client (tests); otherwise built from the settings. */
  readonly client?: S3Client;
}

interface AwsError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}
const status = (e: unknown) => (e as AwsError)?.$metadata?.httpStatusCode;
const isNotFound = (e: unknown) => status(e) === 404 || ['NotFound', 'NoSuchKey'].includes((e as AwsError)?.name ?? '');

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly keys: S3Keys;
  readonly client: S3Client;
  private readonly tails = new TailCache(64 * 1024 * 1024);
  private readonly reads: S3Reads;
  private readonly bucket: string;
  private readonly maxCopySize: number;
  private readonly copyPartSize: number;

  constructor(
    readonly settings: S3Settings,
    private readonly opts: S3BlobStoreOptions = {},
  ) {
    this.bucket = settings.bucket;
    this.keys = new S3Keys(settings.prefix);
    this.client = opts.client ?? makeS3Client(settings);
    this.reads = new S3Reads(this.client, settings, this.keys);
    this.maxCopySize = opts.maxCopySize ?? 5 * 1024 ** 3;
    this.copyPartSize = opts.copyPartSize ?? 512 * 1024 ** 2;
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      const where = this.settings.endpoint ?? `AWS ${this.settings.region}`;
      if (status(e) === 404) throw new ConfigError(`storage.s3.bucket: bucket "${this.bucket}" does not exist at ${where}`);
      if (status(e) === 403 || status(e) === 401) {
        throw new ConfigError(`storage.s3: access to bucket "${this.bucket}" at ${where} denied (check the credentials and the bucket policy)`);
      }
      throw new Error(`storage.s3: cannot reach bucket "${this.bucket}" at ${where}: ${(e as Error).message}`, { cause: e });
    }
  }

  async check(): Promise<void> {
    const key = this.keys.probe();
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'ok' }));
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async stat(digest: string): Promise<number | null> {
    return this.statKey(this.keys.blob(digest));
  }

  async statKey(key: string): Promise<number | null> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return h.ContentLength ?? 0;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async open(digest: string, range?: ByteRange, signal?: AbortSignal): Promise<OpenedBlob | null> {
    return this.reads.open(digest, range, signal);
  }

  async redirectUrl(digest: string): Promise<string | null> {
    return this.settings.redirect ? this.reads.presigned(digest) : null;
  }

  async delete(digest: string): Promise<void> {
    this.reads.forget(digest);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keys.blob(digest) }));
  }

  async *list(): AsyncIterable<StoredBlob> {
    for await (const o of this.listKeys(this.keys.blobs)) {
      const digest = this.keys.digestOf(o.key);
      if (digest) yield { digest, size: o.size, modifiedMs: o.modifiedMs };
    }
  }

  async startUpload(id: string): Promise<BlobUpload> {
    this.keys.upload(id); // validates the id
    // Nothing is stored until the first byte: an empty session has nothing to resume or to collect.
    return new S3Upload(this, id, emptySession(), ResumableHash.create('sha256'), this.opts.log);
  }

  async resumeUpload(id: string, state: UploadState): Promise<BlobUpload> {
    this.keys.upload(id);
    if (state.size === 0) return new S3Upload(this, id, emptySession(), ResumableHash.create('sha256'), this.opts.log);
    let text: string;
    try {
      text = (await this.getBytes(this.keys.state(id, state.size))).toString('utf8');
    } catch (e) {
      if (isNotFound(e)) throw unknown(id, 'upload data is gone');
      throw e;
    }
    const st = parseSession(id, state.size, text);
    let hash: ResumableHash | null = null;
    try {
      const h = ResumableHash.restore(st.hash);
      if (h.bytes === st.size) hash = h;
    } catch {
      // Saved by another process: see upload.ts (re-hashed from the bucket at commit).
    }
    if (!hash) this.opts.log?.debug({ upload: id }, 's3 upload: hash state not restorable here; the digest will be checked by reading back');
    return new S3Upload(this, id, st, hash, this.opts.log);
  }

  async *listUploads(): AsyncIterable<{ id: string; modifiedMs: number }> {
    // Sessions with objects (keys sorted, so one session's objects are adjacent)...
    const seen = new Set<string>();
    let cur = null as { id: string; modifiedMs: number } | null;
    for await (const o of this.listKeys(this.keys.uploads)) {
      const id = this.keys.uploadIdOf(o.key);
      if (!id) continue;
      if (cur && cur.id !== id) {
        yield cur;
        cur = null;
      }
      const prev: number = cur?.modifiedMs ?? 0;
      cur = { id, modifiedMs: Math.max(prev, o.modifiedMs) };
      seen.add(id);
    }
    if (cur) yield cur;
    // ...and multipart uploads with none (a crash between creating one and storing the state).
    for await (const u of this.listMultipart(this.keys.uploads)) {
      const id = this.keys.uploadIdOf(u.key);
      if (id && !seen.has(id)) {
        seen.add(id);
        yield { id, modifiedMs: u.initiatedMs };
      }
    }
  }

  async deleteUpload(id: string): Promise<void> {
    const prefix = this.keys.upload(id);
    const objects: string[] = [];
    for await (const o of this.listKeys(prefix)) objects.push(o.key);
    await this.deleteKeys(objects);
    for await (const u of this.listMultipart(prefix)) await this.abortMultipart(id, u.uploadId);
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.reads.close();
  }

  // ── primitives for upload.ts ──────────────────────────────────────────────────────────────────────

  async getBytes(key: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), signal ? { abortSignal: signal } : {});
    const chunks: Buffer[] = [];
    for await (const c of res.Body as Readable) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** A tail's bytes (fewer than one part), from this process's cache or the bucket. */
  async readTail(key: string, size: number, signal?: AbortSignal): Promise<Buffer> {
    const cached = this.tails.get(key);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = await this.getBytes(key, signal);
    } catch (e) {
      if (isNotFound(e)) throw unknown(key, 'upload data is gone');
      throw e;
    }
    if (bytes.length !== size) throw new Error(`s3: upload tail ${key} holds ${bytes.length} bytes, state says ${size}`);
    return bytes;
  }

  async putTail(key: string, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length, ContentType: OCTET }),
      signal ? { abortSignal: signal } : {},
    );
    this.tails.set(key, bytes);
  }

  async putState(id: string, st: SessionState, signal?: AbortSignal): Promise<void> {
    const body = Buffer.from(JSON.stringify(st));
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.keys.state(id, st.size), Body: body, ContentLength: body.length, ContentType: 'application/json' }),
      signal ? { abortSignal: signal } : {},
    );
  }

  async createMultipart(id: string): Promise<string> {
    const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.keys.data(id), ContentType: OCTET }));
    if (!res.UploadId) throw new Error('s3: CreateMultipartUpload returned no UploadId');
    return res.UploadId;
  }

  async uploadPart(id: string, uploadId: string, n: number, body: Buffer, signal: AbortSignal): Promise<string> {
    const res = await this.client.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: this.keys.data(id), UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
      { abortSignal: signal },
    );
    if (!res.ETag) throw new Error(`s3: UploadPart ${n} returned no ETag`);
    return res.ETag;
  }

  async copyPart(id: string, uploadId: string, n: number, sourceKey: string, range?: string): Promise<string> {
    const res = await this.client.send(
      new UploadPartCopyCommand({
        Bucket: this.bucket,
        Key: this.keys.data(id),
        UploadId: uploadId,
        PartNumber: n,
        CopySource: `${this.bucket}/${sourceKey}`,
        ...(range ? { CopySourceRange: range } : {}),
      }),
    );
    const etag = res.CopyPartResult?.ETag;
    if (!etag) throw new Error(`s3: UploadPartCopy ${n} returned no ETag`);
    return etag;
  }

  async completeMultipart(id: string, uploadId: string, parts: readonly PartRef[], key = this.keys.data(id)): Promise<void> {
    // RGW answers with an empty <ETag> here (a Ceph 16 bug); nothing below relies on it.
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
      }),
    );
  }

  async abortMultipart(id: string, uploadId: string, key = this.keys.data(id)): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      if (!this.isNoSuchUpload(e)) throw e;
    }
  }

  abortMultipartQuietly(id: string, uploadId: string): void {
    this.abortMultipart(id, uploadId).catch((e: unknown) => this.opts.log?.warn({ err: e, upload: id }, 's3: abort of a multipart upload failed; GC will retry'));
  }

  isNoSuchUpload(e: unknown): boolean {
    return (e as AwsError)?.name === 'NoSuchUpload' || (e as AwsError)?.Code === 'NoSuchUpload';
  }

  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      for (const k of batch) this.tails.delete(k);
      if (batch.length === 1) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: batch[0] }));
        continue;
      }
      const res = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new Error(`s3: deleting ${failed.length} objects failed: ${failed[0]?.Code} ${failed[0]?.Key}`);
    }
  }

  deleteKeysQuietly(keys: readonly string[]): void {
    this.deleteKeys(keys).catch((e: unknown) => this.opts.log?.warn({ err: e }, 's3: cleanup of stale upload objects failed; GC will retry'));
  }

  async putEmptyBlob(digest: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keys.blob(digest), Body: Buffer.alloc(0), ContentLength: 0, ContentType: OCTET }));
  }

  /** Server-side copy of `source` to blob `digest`; the blob appears whole when the copy completes. */
  async copyToBlob(source: string, digest: string, size: number): Promise<void> {
    const key = this.keys.blob(digest);
    if (size <= this.maxCopySize) {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: `${this.bucket}/${source}`, ContentType: OCTET, MetadataDirective: 'REPLACE' }),
      );
      return;
    }
    // Larger than one CopyObject: a multipart upload at the blob key, each part copied from a range.
    const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: OCTET }));
    const uploadId = res.UploadId!;
    try {
      const ranges: [number, number][] = [];
      for (let start = 0; start < size; start += this.copyPartSize) ranges.push([start, Math.min(start + this.copyPartSize, size) - 1]);
      const parts: PartRef[] = new Array(ranges.length);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < ranges.length; i = next++) {
          const [a, b] = ranges[i]!;
          const r = await this.client.send(
            new UploadPartCopyCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, CopySource: `${this.bucket}/${source}`, CopySourceRange: `bytes=${a}-${b}` }),
          );
          parts[i] = { n: i + 1, etag: r.CopyPartResult!.ETag!, size: b - a + 1 };
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      await this.completeMultipart('', uploadId, parts, key);
    } catch (e) {
      await this.abortMultipart('', uploadId, key).catch(() => undefined);
      throw e;
    }
  }

  /** Streams an object through a hash: its digest and length. */
  async hashObject(key: string, algorithm: 'sha256' | 'sha512'): Promise<{ digest: string; size: number }> {
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const h = createHash(algorithm);
    let size = 0;
    for await (const c of res.Body as Readable) {
      h.update(c as Buffer);
      size += (c as Buffer).length;
    }
    return { digest: `${algorithm}:${h.digest('hex')}`, size };
  }

  // ── listings ──────────────────────────────────────────────────────────────────────────────────────

  async *listKeys(prefix: string): AsyncIterable<{ key: string; size: number; modifiedMs: number }> {
    for (let token: string | undefined; ; ) {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) yield { key: o.Key, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 };
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      token = page.NextContinuationToken;
    }
  }

  async *listMultipart(prefix: string): AsyncIterable<{ key: string; uploadId: string; initiatedMs: number }> {
    for (let keyMarker: string | undefined, idMarker: string | undefined; ; ) {
      const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of page.Uploads ?? []) {
        if (u.Key !== undefined && u.UploadId !== undefined) yield { key: u.Key, uploadId: u.UploadId, initiatedMs: u.Initiated?.getTime() ?? 0 };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  }
}
