/**
 * Object keys of the S3 driver, under the configured prefix:
 *
 *   <prefix>blobs/sha256/3f/3f0a…e1              a blob; key = digest; written once, by CopyObject/PutObject
 *   <prefix>uploads/<id>/state.<size>            a session's state after <size> bytes (JSON, state.ts)
 *   <prefix>uploads/<id>/tail.<size>.<nonce>     the bytes past the last full part (< one part)
 *   <prefix>uploads/<id>/data                    the session's multipart upload; after completion, its bytes
 *   <prefix>_check/<pid>-<nonce>                 readiness probes (written and deleted at once)
 *
 * Same shape as the filesystem layout (blobs/<alg>/<2 hex>/<hex>), so listings and tools read alike.
 * Only digests that parseDigest accepted and ids matching UPLOAD_ID_RE become keys: nothing escapes.
 */
import { randomBytes } from 'node:crypto';
import { parseDigest } from '../../oci/digest.js';
import { UPLOAD_ID_RE } from '../blob-store.js';

const BLOB_KEY_RE = /^blobs\/(sha256|sha512)\/([0-9a-f]{2})\/([0-9a-f]+)$/;
const UPLOAD_KEY_RE = /^uploads\/([^/]+)\//;

export class S3Keys {
  constructor(readonly prefix: string) {}

  get blobs(): string {
    return `${this.prefix}blobs/`;
  }

  get uploads(): string {
    return `${this.prefix}uploads/`;
  }

  blob(digest: string): string {
    const d = parseDigest(digest);
    if (!d) throw new Error(`refusing to map an unverified digest to a key: ${JSON.stringify(digest)}`);
    return `${this.prefix}blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`;
  }

  /** The digest a listed key stands for, or null for anything that is not a blob key. */
  digestOf(key: string): string | null {
    if (!key.startsWith(this.prefix)) return null;
    const m = BLOB_KEY_RE.exec(key.slice(this.prefix.length));
    if (!m || m[3]!.slice(0, 2) !== m[2]) return null;
    return parseDigest(`${m[1]}:${m[3]}`)?.digest ?? null;
  }

  upload(id: string): string {
    if (!UPLOAD_ID_RE.test(id)) throw new Error('invalid upload id');
    return `${this.uploads}${id}/`;
  }

  /** The upload id a listed key belongs to, or null. */
  uploadIdOf(key: string): string | null {
    if (!key.startsWith(this.prefix)) return null;
    const m = UPLOAD_KEY_RE.exec(key.slice(this.prefix.length));
    return m && UPLOAD_ID_RE.test(m[1]!) ? m[1]! : null;
  }

  state(id: string, size: number): string {
    return `${this.upload(id)}state.${size}`;
  }

  /**
   * A fresh key per write: an append that was never acknowledged (its state not persisted) may have
   * written a tail at the same size, and must not clobber the one a live state names — nor be mistaken
   * for it by a cache.
   */
  tail(id: string, size: number): string {
    return `${this.upload(id)}tail.${size}.${randomBytes(6).toString('hex')}`;
  }

  data(id: string): string {
    return `${this.upload(id)}data`;
  }

  probe(): string {
    return `${this.prefix}_check/${process.pid}-${randomBytes(6).toString('hex')}`;
  }
}
