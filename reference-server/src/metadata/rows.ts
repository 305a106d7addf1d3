/**
 * The rows both SQL backends (sqlite/, postgres/) read from their tables, and their mapping to the
 * records the stores return: one home, so that the backends cannot drift apart in how a column becomes
 * a field. The queries stay with each backend; they produce these shapes.
 *
 * Where the backends differ, it is settled here or in the SQL:
 * - booleans: SQLite stores 0/1, PostgreSQL returns true/false: such columns are a Flag, read with flag().
 * - the upload offset: the column is `offset` in SQLite, `byte_offset` in PostgreSQL (OFFSET is reserved
 *   there); SQLite selects it AS byte_offset.
 * - BIGINT: PostgreSQL's pool parses int8 and numeric into numbers (postgres/database.ts), so every integer
 *   column is a number on both.
 */
import type { UploadState } from '../storage/blob-store.js';
import type { RefreshTokenRecord, TokenRecord, UserRecord } from './account-store.js';
import type { GcBlobState, GcLinkRow, GcLinkState, GcManifestRow, GcManifestState } from './gc-store.js';
import type { SigningKeyRow } from './key-store.js';
import type { RepositoryRow } from './repository-store.js';
import type { BlobRecord, ManifestRecord, Referrer, UploadRecord } from './store.js';

/** A boolean column: 0/1 from SQLite, true/false from PostgreSQL. */
export type Flag = number | boolean;
export const flag = (v: unknown): boolean => v === 1 || v === true;

const annotationsOf = (json: string | null): Record<string, string> | null => (json ? (JSON.parse(json) as Record<string, string>) : null);

// --- registry (store.ts) -----------------------------------------------------------------------------

export interface ManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  body: Buffer;
  subject: string | null;
  artifact_type: string | null;
  annotations: string | null;
  created_at: number;
}

export const toManifest = (r: ManifestRow): ManifestRecord => ({
  repository: r.repository,
  digest: r.digest,
  mediaType: r.media_type,
  size: r.size,
  body: r.body,
  subject: r.subject,
  artifactType: r.artifact_type,
  annotations: annotationsOf(r.annotations),
  createdAt: r.created_at,
});

export interface BlobRow {
  digest: string;
  size: number;
  created_at: number;
}

export const toBlob = (r: BlobRow): BlobRecord => ({ digest: r.digest, size: r.size, createdAt: r.created_at });

export interface UploadRow {
  id: string;
  repository: string;
  byte_offset: number;
  /** NULL only in SQLite sessions from before the state column (the migration fills those in). */
  state: string | null;
  started_at: number;
  updated_at: number;
}

export const toUpload = (r: UploadRow): UploadRecord => ({
  id: r.id,
  repository: r.repository,
  offset: r.byte_offset,
  state: r.state ? (JSON.parse(r.state) as UploadState) : { size: r.byte_offset, hash: '' },
  startedAt: r.started_at,
  updatedAt: r.updated_at,
});

/** A manifest naming the subject, or an index-attached relation (then artifact_type/annotations are the index's). */
export interface ReferrerRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  annotations: string | null;
}

export const toReferrer = (r: ReferrerRow): Referrer => ({
  digest: r.digest,
  mediaType: r.media_type,
  size: r.size,
  artifactType: r.artifact_type,
  annotations: annotationsOf(r.annotations),
});

// --- garbage collection (gc-store.ts) ----------------------------------------------------------------

export interface GcManifestSqlRow {
  digest: string;
  subject: string | null;
  created_at: number;
  size: number;
  tagged: Flag;
}

export const toGcManifest = (r: GcManifestSqlRow): GcManifestRow => ({
  digest: r.digest,
  subject: r.subject,
  createdAt: r.created_at,
  size: r.size,
  tagged: flag(r.tagged),
});

export interface GcLinkSqlRow {
  digest: string;
  size: number;
  linked_at: number;
  last_referenced_at: number | null;
}

export const toGcLink = (r: GcLinkSqlRow): GcLinkRow => ({ digest: r.digest, size: r.size, linkedAt: r.linked_at, lastReferencedAt: r.last_referenced_at });

export interface ManifestStateRow {
  subject: string | null;
  created_at: number;
  tagged: Flag;
  is_child: Flag;
  subject_present: Flag;
}

export const toManifestState = (r: ManifestStateRow): GcManifestState => ({
  subject: r.subject,
  createdAt: r.created_at,
  tagged: flag(r.tagged),
  isChild: flag(r.is_child),
  subjectPresent: flag(r.subject_present),
});

export interface LinkStateRow {
  linked_at: number;
  last_referenced_at: number | null;
  referenced: Flag;
}

export const toLinkState = (r: LinkStateRow): GcLinkState => ({ linkedAt: r.linked_at, lastReferencedAt: r.last_referenced_at, referenced: flag(r.referenced) });

export interface BlobStateRow {
  size: number;
  created_at: number;
  links: number;
  refs: number;
}

export const toBlobState = (r: BlobStateRow): GcBlobState => ({ size: r.size, createdAt: r.created_at, links: r.links, references: r.refs });

// --- accounts (account-store.ts) ---------------------------------------------------------------------

export interface UserRow {
  username: string;
  password_hash: string | null;
  admin: Flag;
  created_at: number;
}

export const toUser = (r: UserRow): UserRecord => ({ username: r.username, passwordHash: r.password_hash, admin: flag(r.admin), createdAt: r.created_at });

export interface TokenRow {
  id: number;
  username: string;
  name: string;
  token_hash: string;
  scopes: string | null;
  expires_at: number | null;
  created_at: number;
  last_used_at: number | null;
}

export const toToken = (r: TokenRow): TokenRecord => ({
  id: r.id,
  username: r.username,
  name: r.name,
  tokenHash: r.token_hash,
  scopes: r.scopes === null ? null : (JSON.parse(r.scopes) as string[]),
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

export interface RefreshTokenRow {
  username: string;
  method: RefreshTokenRecord['method'];
  token_id: number | null;
  expires_at: number;
}

export const toRefreshToken = (r: RefreshTokenRow): RefreshTokenRecord => ({ username: r.username, method: r.method, tokenId: r.token_id, expiresAt: r.expires_at });

// --- signing keys (key-store.ts) ---------------------------------------------------------------------

export interface SigningKeySqlRow {
  kid: string;
  alg: string;
  private_pem: string;
  created_at: number;
  active: Flag;
  retired_at: number | null;
}

export const toSigningKey = (r: SigningKeySqlRow): SigningKeyRow => ({
  kid: r.kid,
  alg: r.alg,
  privatePem: r.private_pem,
  createdAt: r.created_at,
  active: flag(r.active),
  retiredAt: r.retired_at,
});

// --- Nitro repositories (repository-store.ts) --------------------------------------------------------

export interface RepositorySqlRow {
  id: string;
  name: string;
  visibility: RepositoryRow['visibility'];
  config: string;
  source: RepositoryRow['source'];
  created_at: number;
}

export const toRepository = (r: RepositorySqlRow): RepositoryRow => ({
  id: r.id,
  name: r.name,
  visibility: r.visibility,
  config: r.config,
  source: r.source,
  createdAt: r.created_at,
});
