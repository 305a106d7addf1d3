/**
 * An S3 upload session's state, as stored in the bucket at uploads/<id>/state.<size> after every
 * append. Any replica resumes the session from it: BlobStore.resumeUpload(id, {size}) reads the object
 * for that size, so bytes an unacknowledged append stored past it (a chunk cut by a crash, a state the
 * caller never persisted) are simply not referenced — parts are re-uploaded by number, tails get fresh
 * keys, and CompleteMultipartUpload takes only the listed parts.
 */
import { RegistryError } from '../../oci/errors.js';

export interface PartRef {
  /** 1-based part number. */
  readonly n: number;
  readonly etag: string;
  readonly size: number;
}

export interface SessionState {
  readonly v: 1;
  /** Bytes acknowledged: the parts, then the tail. */
  readonly size: number;
  /** The multipart upload at uploads/<id>/data, created with the first full part. */
  readonly uploadId: string | null;
  readonly parts: readonly PartRef[];
  /** Bytes after the last part (fewer than one part), or null. */
  readonly tail: { readonly key: string; readonly size: number } | null;
  /** ResumableHash.save() of the sha256 over all `size` bytes; '' when unknown (re-hashed at commit). */
  readonly hash: string;
  /**
   * Keys of the state this one replaced. Deleted when an append starts from this state — proof that the
   * caller persisted it, so the previous one can never be resumed again.
   */
  readonly stale: readonly string[];
}

export const emptySession = (): SessionState => ({ v: 1, size: 0, uploadId: null, parts: [], tail: null, hash: '', stale: [] });

/** Parses and checks a stored state; anything inconsistent means the session's bytes cannot be trusted. */
export function parseSession(id: string, size: number, text: string): SessionState {
  let s: SessionState;
  try {
    s = JSON.parse(text) as SessionState;
  } catch {
    throw unknown(id, 'upload state is not JSON');
  }
  const partsBytes = Array.isArray(s.parts) ? s.parts.reduce((n, p) => n + p.size, 0) : NaN;
  const ok =
    s.v === 1 &&
    s.size === size &&
    Array.isArray(s.stale) &&
    typeof s.hash === 'string' &&
    (s.parts.length === 0 || typeof s.uploadId === 'string') &&
    s.parts.every((p, i) => p.n === i + 1 && typeof p.etag === 'string' && Number.isInteger(p.size) && p.size > 0) &&
    partsBytes + (s.tail?.size ?? 0) === size;
  if (!ok) throw unknown(id, `upload state for ${size} bytes is inconsistent`);
  return s;
}

export const unknown = (id: string, why: string) => new RegistryError('BLOB_UPLOAD_UNKNOWN', why, { uuid: id });
