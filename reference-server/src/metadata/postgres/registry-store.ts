/**
 * MetadataStore on PostgreSQL (tables in migrations.ts), for any number of replicas on one database.
 * Each method is one transaction; the invariants rest on locks taken inside it, never on a snapshot:
 *
 * - putManifest takes a transaction-scoped advisory lock per immutable tag (sorted: no deadlock), then
 *   locks the link rows of the blobs it references (FOR NO KEY UPDATE: it refreshes their
 *   last_referenced_at) and the blob rows FOR SHARE, and the child manifests FOR SHARE. GC's collectLink,
 *   collectBlob and collectManifest lock those rows FOR UPDATE before re-checking, so either the PUT sees
 *   the row gone (MANIFEST_BLOB_UNKNOWN) or GC sees the reference (kept). gc/README.md has the argument.
 * - commitBlob holds the digest's session advisory lock (the one collectBlob takes) across the storage
 *   publish and the record, as the embedded backend's KeyedMutex does within one process.
 */
import { decideTag, deleteRefusal, tagIsImmutable, type WriteRules } from '../../registry/immutability.js';
import type { UploadState } from '../../storage/blob-store.js';
import { toBlob, toManifest, toReferrer, toUpload, type BlobRow, type ManifestRow, type ReferrerRow, type UploadRow } from '../rows.js';
import {
  SEEN_REFRESH_MS,
  type BlobRecord,
  type DeleteOutcome,
  type ManifestRecord,
  type ManifestReference,
  type MetadataStore,
  type NewManifest,
  type Page,
  type PutManifestResult,
  type Referrer,
  type UploadRecord,
} from '../store.js';
import { LOCK, type Db, type Queryable } from './database.js';

const UNKNOWN: DeleteOutcome = { ok: false, reason: 'unknown' };
const OK: DeleteOutcome = { ok: true };

const LINKED_BLOB = 'SELECT b.digest, b.size, b.created_at FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository = $1 AND l.digest = $2';
const TOUCH_REPO = `INSERT INTO repositories (name, created_at, last_push) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET last_push = COALESCE(EXCLUDED.last_push, repositories.last_push)`;
const UPSERT_LINK = `INSERT INTO repo_blobs (repository, digest, linked_at) VALUES ($1, $2, $3)
  ON CONFLICT (repository, digest) DO UPDATE SET linked_at = EXCLUDED.linked_at`;
const HAS_CONTENT = `SELECT EXISTS(SELECT 1 FROM manifests WHERE repository = $1) OR EXISTS(SELECT 1 FROM repo_blobs WHERE repository = $1) AS present`;
const FORGET_IF_EMPTY = `DELETE FROM repositories WHERE name = $1
  AND NOT EXISTS(SELECT 1 FROM manifests WHERE repository = $1) AND NOT EXISTS(SELECT 1 FROM repo_blobs WHERE repository = $1)`;

export class PostgresMetadataStore implements MetadataStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  // --- blobs ---------------------------------------------------------------------------------------

  async getBlob(digest: string): Promise<BlobRecord | null> {
    const r = await this.db.query<BlobRow>('SELECT digest, size, created_at FROM blobs WHERE digest = $1', [digest]);
    return r.rows[0] ? toBlob(r.rows[0]) : null;
  }

  async getLinkedBlob(repository: string, digest: string): Promise<BlobRecord | null> {
    const r = await this.db.query<BlobRow>(LINKED_BLOB, [repository, digest]);
    return r.rows[0] ? toBlob(r.rows[0]) : null;
  }

  async repositoriesWithBlob(digest: string): Promise<string[]> {
    const r = await this.db.query<{ repository: string }>('SELECT repository FROM repo_blobs WHERE digest = $1 ORDER BY repository', [digest]);
    return r.rows.map((x) => x.repository);
  }

  async commitBlob(digest: string, repository: string, publish: () => Promise<{ readonly size: number }>): Promise<BlobRecord> {
    return this.db.withLock(LOCK.blob, digest, async (db) => {
      const { size } = await publish();
      const now = this.now();
      return db.tx(async (c) => {
        await c.query('INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING', [digest, size, now]);
        await c.query(UPSERT_LINK, [repository, digest, now]);
        await c.query(TOUCH_REPO, [repository, now, null]);
        return toBlob((await c.query<BlobRow>('SELECT digest, size, created_at FROM blobs WHERE digest = $1', [digest])).rows[0]!);
      });
    });
  }

  async linkBlob(digest: string, repository: string): Promise<boolean> {
    const now = this.now();
    return this.db.tx(async (c) => {
      // FOR SHARE: GC's collectBlob (FOR UPDATE) waits, then counts this link; or it already deleted the row.
      if ((await c.query('SELECT 1 FROM blobs WHERE digest = $1 FOR SHARE', [digest])).rowCount === 0) return false;
      await c.query(UPSERT_LINK, [repository, digest, now]);
      await c.query(TOUCH_REPO, [repository, now, null]);
      return true;
    });
  }

  async unlinkBlob(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome> {
    return this.db.tx(async (c): Promise<DeleteOutcome> => {
      if ((await c.query('SELECT 1 FROM repo_blobs WHERE repository = $1 AND digest = $2 FOR UPDATE', [repository, digest])).rowCount === 0) return UNKNOWN;
      const referenced =
        ((await c.query(`SELECT 1 FROM manifest_refs WHERE repository = $1 AND child = $2 AND kind = 'blob' LIMIT 1`, [repository, digest])).rowCount ?? 0) > 0;
      const refused = deleteRefusal(rules, { kind: 'blob', digest, referenced });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      await c.query('DELETE FROM repo_blobs WHERE repository = $1 AND digest = $2', [repository, digest]);
      await c.query(FORGET_IF_EMPTY, [repository]);
      return OK;
    });
  }

  async touchBlob(repository: string, digest: string): Promise<void> {
    const now = this.now();
    await this.db.query(
      'UPDATE repo_blobs SET last_referenced_at = $3 WHERE repository = $1 AND digest = $2 AND GREATEST(linked_at, COALESCE(last_referenced_at, 0)) < $4',
      [repository, digest, now, now - SEEN_REFRESH_MS],
    );
  }

  // --- manifests and tags ----------------------------------------------------------------------------

  async putManifest(m: NewManifest, tags: readonly string[], rules: WriteRules): Promise<PutManifestResult> {
    const uniqueTags = [...new Set(tags)];
    const blobRefs = [...new Set(m.references.filter((r) => r.kind === 'blob').map((r) => r.digest))].sort();
    const children = m.references.filter((r) => r.kind === 'manifest').map((r) => r.digest);
    return this.db.tx(async (c): Promise<PutManifestResult> => {
      const now = this.now();
      // Racing pushes of one immutable tag queue here; the winner commits before the next reads the tag.
      const locked = uniqueTags.filter((t) => tagIsImmutable(rules, t)).map((t) => `${m.repository}:${t}`);
      if (locked.length > 0) {
        await c.query('SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext(x) AS k FROM unnest($2::text[]) x ORDER BY k) s', [LOCK.tag, locked]);
      }

      // References, checked and locked in this transaction (see the header).
      const present = new Set<string>();
      if (blobRefs.length > 0) {
        const r = await c.query<{ digest: string }>(
          `SELECT l.digest FROM repo_blobs l JOIN blobs b ON b.digest = l.digest
            WHERE l.repository = $1 AND l.digest = ANY($2::text[]) ORDER BY l.digest FOR NO KEY UPDATE OF l FOR SHARE OF b`,
          [m.repository, blobRefs],
        );
        for (const row of r.rows) present.add(`blob:${row.digest}`);
      }
      const attestationChildren = new Set<string>();
      if (children.length > 0) {
        const r = await c.query<{ digest: string; attestation: boolean }>(
          'SELECT digest, attestation FROM manifests WHERE repository = $1 AND digest = ANY($2::text[]) ORDER BY digest FOR SHARE',
          [m.repository, [...new Set(children)]],
        );
        for (const row of r.rows) {
          present.add(`manifest:${row.digest}`);
          if (row.attestation) attestationChildren.add(row.digest);
        }
      }
      const missing: ManifestReference[] = m.references.filter((r) => !present.has(`${r.kind}:${r.digest}`));
      if (missing.length > 0) return { missing, tagsSet: [], tagsKept: [] };

      const incoming = { digest: m.digest, attestation: m.attestation, children };
      const tagsSet: string[] = [];
      const tagsKept: string[] = [];
      for (const tag of uniqueTags) {
        const current = (await c.query<{ digest: string }>('SELECT digest FROM tags WHERE repository = $1 AND tag = $2', [m.repository, tag])).rows[0]?.digest ?? null;
        const incomingIsChildOfCurrent =
          current !== null &&
          ((await c.query(`SELECT 1 FROM manifest_refs WHERE repository = $1 AND digest = $2 AND child = $3 AND kind = 'manifest'`, [m.repository, current, m.digest]))
            .rowCount ?? 0) > 0;
        const decision = decideTag(rules, tag, incoming, { current, incomingIsChildOfCurrent, attestationChildren });
        if (decision.kind === 'conflict') return { missing: [], conflict: { tag, current: decision.current }, tagsSet: [], tagsKept: [] };
        (decision.kind === 'move' ? tagsSet : tagsKept).push(tag);
      }

      const inserted = await c.query(
        `INSERT INTO manifests (repository, digest, media_type, size, body, subject, artifact_type, annotations, created_at, attestation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (repository, digest) DO NOTHING`,
        [m.repository, m.digest, m.mediaType, m.body.length, m.body, m.subject, m.artifactType, m.annotations ? JSON.stringify(m.annotations) : null, now, m.attestation],
      );
      if ((inserted.rowCount ?? 0) > 0 && m.references.length > 0) {
        await c.query(
          `INSERT INTO manifest_refs (repository, digest, child, kind, subject, artifact_type, annotations)
           SELECT $1, $2, child, kind, subject, artifact_type, annotations
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r(child, kind, subject, artifact_type, annotations)
           ON CONFLICT DO NOTHING`,
          [
            m.repository,
            m.digest,
            m.references.map((r) => r.digest),
            m.references.map((r) => r.kind),
            m.references.map((r) => r.describes?.subject ?? null),
            m.references.map((r) => r.describes?.artifactType ?? null),
            m.references.map((r) => (r.describes?.annotations ? JSON.stringify(r.describes.annotations) : null)),
          ],
        );
      }
      // GC's grace period counts from the last time a blob was referenced, not only from its upload.
      if (blobRefs.length > 0) {
        await c.query('UPDATE repo_blobs SET last_referenced_at = $1 WHERE repository = $2 AND digest = ANY($3::text[])', [now, m.repository, blobRefs]);
      }
      if (tagsSet.length > 0) {
        await c.query(
          `INSERT INTO tags (repository, tag, digest, updated_at) SELECT $1, t, $2, $3 FROM unnest($4::text[]) t
           ON CONFLICT (repository, tag) DO UPDATE SET digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at`,
          [m.repository, m.digest, now, tagsSet],
        );
      }
      await c.query(TOUCH_REPO, [m.repository, now, now]);
      return { missing: [], tagsSet, tagsKept };
    });
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    const r = await this.db.query<ManifestRow>(
      'SELECT repository, digest, media_type, size, body, subject, artifact_type, annotations, created_at FROM manifests WHERE repository = $1 AND digest = $2',
      [repository, digest],
    );
    return r.rows[0] ? toManifest(r.rows[0]) : null;
  }

  async resolveTag(repository: string, tag: string): Promise<string | null> {
    const r = await this.db.query<{ digest: string }>('SELECT digest FROM tags WHERE repository = $1 AND tag = $2', [repository, tag]);
    return r.rows[0]?.digest ?? null;
  }

  async deleteManifest(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome> {
    return this.db.tx(async (c): Promise<DeleteOutcome> => {
      const now = this.now();
      if ((await c.query('SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2 FOR UPDATE', [repository, digest])).rowCount === 0) return UNKNOWN;
      const tags = (await c.query<{ tag: string }>('SELECT tag FROM tags WHERE repository = $1 AND digest = $2 ORDER BY tag FOR UPDATE', [repository, digest])).rows.map(
        (r) => r.tag,
      );
      const listedByIndex =
        ((await c.query(`SELECT 1 FROM manifest_refs WHERE repository = $1 AND child = $2 AND kind = 'manifest' LIMIT 1`, [repository, digest])).rowCount ?? 0) > 0;
      const refused = deleteRefusal(rules, { kind: 'manifest', digest, tags, listedByIndex });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      // A client may have seen these blobs as present a moment ago and be about to reference them: the
      // GC grace period restarts now (see gc/README.md). Rows locked in digest order: no deadlock.
      await c.query(
        `WITH l AS (SELECT l.repository, l.digest FROM repo_blobs l
                      JOIN manifest_refs r ON r.repository = l.repository AND r.child = l.digest AND r.kind = 'blob'
                     WHERE r.repository = $2 AND r.digest = $3 ORDER BY l.digest FOR NO KEY UPDATE OF l)
         UPDATE repo_blobs SET last_referenced_at = $1 FROM l WHERE repo_blobs.repository = l.repository AND repo_blobs.digest = l.digest`,
        [now, repository, digest],
      );
      await c.query('DELETE FROM manifests WHERE repository = $1 AND digest = $2', [repository, digest]);
      await c.query('DELETE FROM manifest_refs WHERE repository = $1 AND digest = $2', [repository, digest]);
      await c.query('DELETE FROM tags WHERE repository = $1 AND digest = $2', [repository, digest]);
      await c.query(FORGET_IF_EMPTY, [repository]);
      return OK;
    });
  }

  async deleteTag(repository: string, tag: string, rules: WriteRules): Promise<DeleteOutcome> {
    return this.db.tx(async (c): Promise<DeleteOutcome> => {
      if ((await c.query('SELECT 1 FROM tags WHERE repository = $1 AND tag = $2 FOR UPDATE', [repository, tag])).rowCount === 0) return UNKNOWN;
      const refused = deleteRefusal(rules, { kind: 'tag', tag });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      await c.query('DELETE FROM tags WHERE repository = $1 AND tag = $2', [repository, tag]);
      return OK;
    });
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    const r = await this.db.query<{ tag: string }>('SELECT tag FROM tags WHERE repository = $1 AND tag > $2 ORDER BY tag LIMIT $3', [
      repository,
      page.last ?? '',
      page.n ?? null,
    ]);
    return r.rows.map((x) => x.tag);
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return hasContent(this.db, repository);
  }

  async listRepositories(page: Page): Promise<string[]> {
    // From the content tables themselves (their primary keys lead with the repository): a listing can
    // never disagree with what is stored, whatever another replica's cleanup of `repositories` does.
    const r = await this.db.query<{ name: string }>(
      `SELECT name FROM (SELECT repository AS name FROM manifests WHERE repository > $1
                         UNION SELECT repository FROM repo_blobs WHERE repository > $1) s ORDER BY name LIMIT $2`,
      [page.last ?? '', page.n ?? null],
    );
    return r.rows.map((x) => x.name);
  }

  async referrers(repository: string, subject: string, artifactType?: string): Promise<Referrer[]> {
    // A manifest's own subject wins over an index-attached relation (DISTINCT ON keeps the first row per
    // digest: own rows sort first); then the artifactType filter, on whichever row won.
    const r = await this.db.query<ReferrerRow>(
      `SELECT digest, media_type, size, artifact_type, annotations FROM (
         SELECT DISTINCT ON (digest) digest, media_type, size, artifact_type, annotations FROM (
           SELECT digest, media_type, size, artifact_type, annotations, 0 AS own_rank, '' AS via FROM manifests
            WHERE repository = $1 AND subject = $2
           UNION ALL
           SELECT m.digest, m.media_type, m.size, r.artifact_type, r.annotations, 1 AS own_rank, r.digest AS via
             FROM manifest_refs r JOIN manifests m ON m.repository = r.repository AND m.digest = r.child
            WHERE r.repository = $1 AND r.subject = $2 AND r.kind = 'manifest'
         ) u ORDER BY digest, own_rank, via
       ) w WHERE ($3::text IS NULL OR artifact_type = $3) ORDER BY digest`,
      [repository, subject, artifactType ?? null],
    );
    return r.rows.map(toReferrer);
  }

  // --- upload sessions -----------------------------------------------------------------------------

  async createUpload(id: string, repository: string, state: UploadState): Promise<UploadRecord> {
    const now = this.now();
    await this.db.query('INSERT INTO uploads (id, repository, byte_offset, state, started_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', [
      id,
      repository,
      state.size,
      JSON.stringify(state),
      now,
    ]);
    return { id, repository, offset: state.size, state, startedAt: now, updatedAt: now };
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    const r = await this.db.query<UploadRow>('SELECT * FROM uploads WHERE id = $1', [id]);
    return r.rows[0] ? toUpload(r.rows[0]) : null;
  }

  async claimUpload(id: string, owner: string, ttlMs: number): Promise<UploadRecord | 'busy' | null> {
    const now = this.now();
    // One UPDATE: racing claims queue on the row and re-check the lease once it is theirs.
    const r = await this.db.query<UploadRow>(
      `UPDATE uploads SET lease_owner = $2, lease_until = $3
        WHERE id = $1 AND (lease_owner IS NULL OR lease_until < $4 OR lease_owner = $2) RETURNING *`,
      [id, owner, now + ttlMs, now],
    );
    if (r.rows[0]) return toUpload(r.rows[0]);
    return (await this.db.query('SELECT 1 FROM uploads WHERE id = $1', [id])).rowCount === 0 ? null : 'busy';
  }

  async renewUpload(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const r = await this.db.query('UPDATE uploads SET lease_until = $3 WHERE id = $1 AND lease_owner = $2', [id, owner, this.now() + ttlMs]);
    return (r.rowCount ?? 0) > 0;
  }

  async saveUpload(id: string, owner: string, state: UploadState): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE uploads SET byte_offset = $3, state = $4, updated_at = $5, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
      [id, owner, state.size, JSON.stringify(state), this.now()],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async releaseUpload(id: string, owner: string): Promise<void> {
    await this.db.query('UPDATE uploads SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2', [id, owner]);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.query('DELETE FROM uploads WHERE id = $1', [id]);
  }

  async staleUploads(before: number): Promise<UploadRecord[]> {
    const r = await this.db.query<UploadRow>(
      'SELECT * FROM uploads WHERE updated_at < $1 AND (lease_owner IS NULL OR lease_until < $2) ORDER BY updated_at',
      [before, this.now()],
    );
    return r.rows.map(toUpload);
  }
}

export async function hasContent(c: Queryable, repository: string): Promise<boolean> {
  return (await c.query<{ present: boolean }>(HAS_CONTENT, [repository])).rows[0]!.present;
}
