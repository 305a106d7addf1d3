/**
 * One upload session on S3. Each append streams the body through a PartSink (full parts go to the
 * session's multipart upload as they fill), then stores the remainder as a tail object and the new state
 * as uploads/<id>/state.<size> — only then is the append acknowledged, and any replica can resume it.
 *
 * Commit: the digest is checked first (from the running sha256 when this process has it), then the parts
 * and the tail are assembled into uploads/<id>/data (CompleteMultipartUpload, the tail as the last part
 * by UploadPartCopy) and server-side copied to the blob's key. S3 fixes a multipart upload's key when it
 * is created, before the digest is known, so the blob cannot be completed in place; a copy is how it
 * appears atomically (CopyObject creates the object whole, or not at all). Small blobs (no full part)
 * are a single CopyObject of the tail.
 *
 * The running hash: resumable-hash.ts's saved state is not yet portable between processes (the
 * placeholder restores only in the process that saved it). When a session resumes where the hash cannot
 * be restored, the driver stops hashing and, at commit, reads the assembled bytes back from the bucket
 * and hashes them before anything is published — correct on any replica, at the cost of one read of the
 * blob. sha512 digests take the same path. Once the portable hash lands, restore succeeds everywhere and
 * the read-back is only the fallback for states written without one.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { parseDigest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import type { AppendOptions, BlobUpload, UploadState } from '../blob-store.js';
import { checkLength, pumpBody, writableSink } from '../pump.js';
import { ResumableHash } from '../resumable-hash.js';
import { PartSink } from './part-sink.js';
import type { PartRef, SessionState } from './state.js';
import type { S3BlobStore } from './store.js';

export class S3Upload implements BlobUpload {
  constructor(
    private readonly store: S3BlobStore,
    readonly id: string,
    private st: SessionState,
    /** The sha256 over all st.size bytes, or null when it could not be restored (re-hashed at commit). */
    private hash: ResumableHash | null,
    private readonly log?: Logger,
  ) {}

  get size(): number {
    return this.st.size;
  }

  state(): UploadState {
    return { size: this.st.size, hash: this.st.hash, driver: { s3: 1, parts: this.st.parts.length } };
  }

  async append(body: Readable, opts: AppendOptions = {}): Promise<number> {
    const { store, id } = this;
    const before = this.st;
    // Keys of the state before ours: this state was persisted (we are appending to it), so they are dead.
    if (before.stale.length > 0) store.deleteKeysQuietly(before.stale);
    let head: Buffer;
    try {
      head = before.tail ? await store.readTail(before.tail.key, before.tail.size, opts.signal) : Buffer.alloc(0);
    } catch (e) {
      body.resume();
      throw e;
    }
    let uploadId = before.uploadId;
    let created: string | null = null;
    // Parts upload concurrently: the first full part creates the multipart upload, the others wait for it.
    let creating: Promise<string> | null = null;
    const ensureUpload = (): Promise<string> => {
      if (uploadId !== null) return Promise.resolve(uploadId);
      creating ??= store.createMultipart(id).then((u) => (uploadId = created = u));
      return creating;
    };
    const sink = new PartSink({
      partSize: store.settings.partSize,
      firstPart: before.parts.length + 1,
      head,
      uploadPart: async (n, bytes, signal) => store.uploadPart(id, await ensureUpload(), n, bytes, signal),
    });
    const hash = this.hash?.copy() ?? null;
    let tailKey: string | null = null;
    try {
      // The hash is fed beside the parts in batches off the event loop (BatchQueue), not per chunk on it.
      // PartSink copies each chunk into its part buffer before calling back: chunks can be freed then.
      const received = await pumpBody(body, writableSink(sink, hash ?? undefined, { copiesChunks: true }), {
        ...(opts.length !== undefined ? { limit: opts.length } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      checkLength(received, opts.length);
      if (received === 0) return before.size;
      opts.signal?.throwIfAborted();

      const size = before.size + received;
      const leftover = sink.leftover;
      tailKey = leftover.length > 0 ? store.keys.tail(id, size) : null;
      const next: SessionState = {
        v: 1,
        size,
        uploadId,
        parts: [...before.parts, ...sink.parts],
        tail: tailKey ? { key: tailKey, size: leftover.length } : null,
        hash: hash ? hash.save() : '',
        stale: [...(before.size > 0 ? [store.keys.state(id, before.size)] : []), ...(before.tail ? [before.tail.key] : [])],
      };
      await Promise.all([
        tailKey ? store.putTail(tailKey, leftover, opts.signal) : undefined,
        store.putState(id, next, opts.signal),
      ]);
      this.st = next;
      this.hash = hash;
      return size;
    } catch (e) {
      // Left as before: nothing we wrote is referenced by the previous state. Tidy what is ours alone.
      if (tailKey) store.deleteKeysQuietly([tailKey]);
      if (created) store.abortMultipartQuietly(id, created);
      throw e;
    }
  }

  async commit(expected: string): Promise<{ digest: string; size: number }> {
    const parsed = parseDigest(expected);
    if (!parsed) throw new RegistryError('DIGEST_INVALID', 'digest parameter is missing or not a supported digest', { digest: expected });
    const { store } = this;
    const st = this.st;
    const mismatch = async (actual: string) => {
      await this.cancel();
      return new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected, actual });
    };

    let verified = false;
    if (parsed.algorithm === 'sha256' && this.hash) {
      const actual = this.hash.digest();
      if (actual !== expected) throw await mismatch(actual);
      verified = true;
      if ((await store.stat(expected)) !== null) return this.dropCommitted(expected, false);
    }

    // The assembled bytes: null for the empty blob, the tail alone, or the completed multipart upload.
    let source: string | null = null;
    let assembled = false;
    if (st.parts.length > 0) {
      source = await this.assemble();
      assembled = true;
    } else if (st.tail) source = st.tail.key;

    if (!verified) {
      // No running hash in this process (see the header): read the assembled bytes back and hash them.
      const back = source === null ? { digest: emptyDigest(parsed.algorithm), size: 0 } : await store.hashObject(source, parsed.algorithm);
      if (back.digest !== expected) throw await mismatch(back.digest);
      if (back.size !== st.size) throw new Error(`upload ${this.id}: ${back.size} bytes stored, ${st.size} acknowledged; refusing to commit`);
      if ((await store.stat(expected)) !== null) return this.dropCommitted(expected, assembled);
    }

    if (source === null) await store.putEmptyBlob(expected);
    else await store.copyToBlob(source, expected, st.size);
    return this.dropCommitted(expected, assembled);
  }

  async cancel(): Promise<void> {
    await this.store.deleteUpload(this.id);
  }

  /** Completes the multipart upload at uploads/<id>/data with every part, the tail as the last one. */
  private async assemble(): Promise<string> {
    const { store, id } = this;
    const st = this.st;
    const dataKey = store.keys.data(id);
    try {
      const parts: PartRef[] = [...st.parts];
      if (st.tail) {
        const n = parts.length + 1;
        parts.push({ n, etag: await store.copyPart(id, st.uploadId!, n, st.tail.key), size: st.tail.size });
      }
      await store.completeMultipart(id, st.uploadId!, parts);
    } catch (e) {
      // A commit that failed after completing (a copy error, a crash) is retried from the same state: the
      // multipart upload is gone, but its bytes are at dataKey.
      if (!store.isNoSuchUpload(e) || (await store.statKey(dataKey)) !== st.size) throw e;
      this.log?.info({ upload: id }, 's3 upload: multipart upload already completed by an earlier commit attempt; reusing it');
    }
    return dataKey;
  }

  /** The blob exists: remove the session's objects (the completed data object too) and report success. */
  private async dropCommitted(digest: string, assembled: boolean): Promise<{ digest: string; size: number }> {
    const { store, id } = this;
    const st = this.st;
    const keys = [store.keys.state(id, st.size), ...st.stale, ...(st.tail ? [st.tail.key] : []), ...(assembled ? [store.keys.data(id)] : [])];
    if (st.size > 0) await store.deleteKeys(keys);
    // Parts of a multipart upload never completed (the blob existed already) would be billed forever.
    if (!assembled && st.uploadId) await store.abortMultipart(id, st.uploadId);
    return { digest, size: st.size };
  }
}

const emptyDigest = (alg: 'sha256' | 'sha512'): string =>
  alg === 'sha256'
    ? 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    : 'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
