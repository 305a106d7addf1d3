/**
 * MetadataStore on the embedded SQLite database (tables in database.ts). Each method is one synchronous
 * better-sqlite3 transaction, so it is atomic within the process; the one section that spans an await
 * (commitBlob: storage operation + record) is serialized per digest by a KeyedMutex that the GC store
 * shares. One process owns the database file (replicas use PostgreSQL).
 */
import { decideTag, deleteRefusal, type WriteRules } from '../../registry/immutability.js';
import type { UploadState } from '../../storage/blob-store.js';
import type { KeyedMutex } from '../keyed-mutex.js';
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
import type { DB } from './database.js';

/** An upload session as rows.ts's UploadRow: the offset column is `offset` here. */
const UPLOAD = 'SELECT id, repository, "offset" AS byte_offset, state, started_at, updated_at FROM uploads';

const UNKNOWN: DeleteOutcome = { ok: false, reason: 'unknown' };
const OK: DeleteOutcome = { ok: true };

export class SqliteMetadataStore implements MetadataStore {
  private readonly q;

  constructor(
    private readonly db: DB,
    private readonly locks: KeyedMutex,
    private readonly now: () => number = Date.now,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      getBlob: p('SELECT digest, size, created_at FROM blobs WHERE digest = ?'),
      insertBlob: p('INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT(digest) DO NOTHING'),
      link: p(
        'INSERT INTO repo_blobs (repository, digest, linked_at) VALUES (?, ?, ?) ON CONFLICT(repository, digest) DO UPDATE SET linked_at = excluded.linked_at',
      ),
      linkedBlob: p(
        'SELECT b.digest, b.size, b.created_at FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repository = ? AND l.digest = ?',
      ),
      reposWithBlob: p('SELECT repository FROM repo_blobs WHERE digest = ? ORDER BY repository').pluck(),
      unlink: p('DELETE FROM repo_blobs WHERE repository = ? AND digest = ?'),
      touchRepo: p(
        'INSERT INTO repositories (name, created_at, last_push) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_push = COALESCE(excluded.last_push, last_push)',
      ),
      getManifest: p('SELECT * FROM manifests WHERE repository = ? AND digest = ?'),
      hasManifest: p('SELECT 1 FROM manifests WHERE repository = ? AND digest = ?'),
      isAttestation: p('SELECT 1 FROM manifests WHERE repository = ? AND digest = ? AND attestation = 1'),
      insertManifest: p(
        `INSERT INTO manifests (repository, digest, media_type, size, body, subject, artifact_type, annotations, created_at, attestation)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(repository, digest) DO NOTHING`,
      ),
      insertRef: p(
        'INSERT OR IGNORE INTO manifest_refs (repository, digest, child, kind, subject, artifact_type, annotations) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      deleteRefs: p('DELETE FROM manifest_refs WHERE repository = ? AND digest = ?'),
      touchSeen: p(
        'UPDATE repo_blobs SET last_referenced_at = ? WHERE repository = ? AND digest = ? AND MAX(linked_at, COALESCE(last_referenced_at, 0)) < ?',
      ),
      touchLinkRef: p('UPDATE repo_blobs SET last_referenced_at = ? WHERE repository = ? AND digest = ?'),
      touchLinksOfManifest: p(
        `UPDATE repo_blobs SET last_referenced_at = ? WHERE repository = ? AND digest IN
           (SELECT child FROM manifest_refs WHERE repository = ? AND digest = ? AND kind = 'blob')`,
      ),
      deleteManifest: p('DELETE FROM manifests WHERE repository = ? AND digest = ?'),
      deleteTagsOf: p('DELETE FROM tags WHERE repository = ? AND digest = ?'),
      resolveTag: p('SELECT digest FROM tags WHERE repository = ? AND tag = ?').pluck(),
      blobReferenced: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND child = ? AND kind = 'blob' LIMIT 1"),
      manifestReferenced: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND child = ? AND kind = 'manifest' LIMIT 1"),
      isChildOf: p("SELECT 1 FROM manifest_refs WHERE repository = ? AND digest = ? AND child = ? AND kind = 'manifest'"),
      upsertTag: p(
        'INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at',
      ),
      deleteTag: p('DELETE FROM tags WHERE repository = ? AND tag = ?'),
      // pluck(): listings return bare strings, no per-row objects (3x faster on 5 000 tags).
      listTags: p('SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?').pluck(),
      tagsOf: p('SELECT tag FROM tags WHERE repository = ? AND digest = ? ORDER BY tag').pluck(),
      repoHasContent: p(
        `SELECT EXISTS(SELECT 1 FROM manifests WHERE repository = @name) OR EXISTS(SELECT 1 FROM repo_blobs WHERE repository = @name) AS present`,
      ),
      deleteRepo: p('DELETE FROM repositories WHERE name = ?'),
      listRepos: p(
        `SELECT name FROM repositories r WHERE name > ? AND (EXISTS(SELECT 1 FROM manifests m WHERE m.repository = r.name) OR EXISTS(SELECT 1 FROM repo_blobs l WHERE l.repository = r.name)) ORDER BY name LIMIT ?`,
      ).pluck(),
      referrers: p(
        'SELECT digest, media_type, size, artifact_type, annotations FROM manifests WHERE repository = ? AND subject = ? ORDER BY digest',
      ),
      // Index-attached referrers: the declaring index's reference row carries the relation.
      attachedReferrers: p(
        `SELECT m.digest, m.media_type, m.size, r.artifact_type, r.annotations FROM manifest_refs r
           JOIN manifests m ON m.repository = r.repository AND m.digest = r.child
          WHERE r.repository = ? AND r.subject = ? AND r.kind = 'manifest' ORDER BY m.digest, r.digest`,
      ),
      createUpload: p('INSERT INTO uploads (id, repository, offset, state, started_at, updated_at) VALUES (?, ?, 0, ?, ?, ?)'),
      getUpload: p(`${UPLOAD} WHERE id = ?`),
      claimUpload: p(
        'UPDATE uploads SET lease_owner = @owner, lease_until = @until WHERE id = @id AND (lease_owner IS NULL OR lease_until < @now OR lease_owner = @owner)',
      ),
      renewUpload: p('UPDATE uploads SET lease_until = @until WHERE id = @id AND lease_owner = @owner'),
      saveUpload: p(
        'UPDATE uploads SET offset = @offset, state = @state, updated_at = @now, lease_owner = NULL, lease_until = NULL WHERE id = @id AND lease_owner = @owner',
      ),
      releaseUpload: p('UPDATE uploads SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?'),
      deleteUpload: p('DELETE FROM uploads WHERE id = ?'),
      staleUploads: p(`${UPLOAD} WHERE updated_at < ? AND (lease_owner IS NULL OR lease_until < ?) ORDER BY updated_at`),
    };
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // --- blobs ---------------------------------------------------------------------------------------

  async getBlob(digest: string): Promise<BlobRecord | null> {
    const r = this.q.getBlob.get(digest) as BlobRow | undefined;
    return r ? toBlob(r) : null;
  }

  async getLinkedBlob(repository: string, digest: string): Promise<BlobRecord | null> {
    const r = this.q.linkedBlob.get(repository, digest) as BlobRow | undefined;
    return r ? toBlob(r) : null;
  }

  async repositoriesWithBlob(digest: string): Promise<string[]> {
    return this.q.reposWithBlob.all(digest) as string[];
  }

  async commitBlob(digest: string, repository: string, publish: () => Promise<{ readonly size: number }>): Promise<BlobRecord> {
    return this.locks.run(digest, async () => {
      const { size } = await publish();
      const now = this.now();
      return this.tx(() => {
        this.q.insertBlob.run(digest, size, now);
        this.q.link.run(repository, digest, now);
        this.q.touchRepo.run(repository, now, null);
        return toBlob(this.q.getBlob.get(digest) as BlobRow);
      });
    });
  }

  async linkBlob(digest: string, repository: string): Promise<boolean> {
    const now = this.now();
    return this.tx(() => {
      if (!this.q.getBlob.get(digest)) return false;
      this.q.link.run(repository, digest, now);
      this.q.touchRepo.run(repository, now, null);
      return true;
    });
  }

  async touchBlob(repository: string, digest: string): Promise<void> {
    const now = this.now();
    this.q.touchSeen.run(now, repository, digest, now - SEEN_REFRESH_MS);
  }

  async unlinkBlob(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome> {
    return this.tx((): DeleteOutcome => {
      if (!this.q.linkedBlob.get(repository, digest)) return UNKNOWN;
      const refused = deleteRefusal(rules, { kind: 'blob', digest, referenced: this.q.blobReferenced.get(repository, digest) !== undefined });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      this.q.unlink.run(repository, digest);
      this.forgetRepositoryIfEmpty(repository);
      return OK;
    });
  }

  // --- manifests and tags ----------------------------------------------------------------------------

  async putManifest(m: NewManifest, tags: readonly string[], rules: WriteRules): Promise<PutManifestResult> {
    const now = this.now();
    return this.tx((): PutManifestResult => {
      const missing: ManifestReference[] = m.references.filter((r) =>
        r.kind === 'blob' ? !this.q.linkedBlob.get(m.repository, r.digest) : !this.q.hasManifest.get(m.repository, r.digest),
      );
      if (missing.length > 0) return { missing, tagsSet: [], tagsKept: [] };

      const children = m.references.filter((r) => r.kind === 'manifest').map((r) => r.digest);
      const attestationChildren = new Set(children.filter((c) => this.q.isAttestation.get(m.repository, c) !== undefined));
      const incoming = { digest: m.digest, attestation: m.attestation, children };
      const tagsSet: string[] = [];
      const tagsKept: string[] = [];
      for (const tag of new Set(tags)) {
        const current = (this.q.resolveTag.get(m.repository, tag) as string | undefined) ?? null;
        const decision = decideTag(rules, tag, incoming, {
          current,
          incomingIsChildOfCurrent: current !== null && this.q.isChildOf.get(m.repository, current, m.digest) !== undefined,
          attestationChildren,
        });
        if (decision.kind === 'conflict') return { missing: [], conflict: { tag, current: decision.current }, tagsSet: [], tagsKept: [] };
        (decision.kind === 'move' ? tagsSet : tagsKept).push(tag);
      }

      const inserted =
        this.q.insertManifest.run(
          m.repository,
          m.digest,
          m.mediaType,
          m.body.length,
          m.body,
          m.subject,
          m.artifactType,
          m.annotations ? JSON.stringify(m.annotations) : null,
          now,
          m.attestation ? 1 : 0,
        ).changes > 0;
      if (inserted) {
        for (const r of m.references) {
          const a = r.describes;
          this.q.insertRef.run(m.repository, m.digest, r.digest, r.kind, a?.subject ?? null, a?.artifactType ?? null, a?.annotations ? JSON.stringify(a.annotations) : null);
        }
      }
      // GC's grace period counts from the last time a blob was referenced, not only from its upload.
      for (const r of m.references) if (r.kind === 'blob') this.q.touchLinkRef.run(now, m.repository, r.digest);
      for (const tag of tagsSet) this.q.upsertTag.run(m.repository, tag, m.digest, now);
      this.q.touchRepo.run(m.repository, now, now);
      return { missing: [], tagsSet, tagsKept };
    });
  }

  async getManifest(repository: string, digest: string): Promise<ManifestRecord | null> {
    const r = this.q.getManifest.get(repository, digest) as ManifestRow | undefined;
    return r ? toManifest(r) : null;
  }

  async resolveTag(repository: string, tag: string): Promise<string | null> {
    return (this.q.resolveTag.get(repository, tag) as string | undefined) ?? null;
  }

  async deleteManifest(repository: string, digest: string, rules: WriteRules): Promise<DeleteOutcome> {
    const now = this.now();
    return this.tx((): DeleteOutcome => {
      if (!this.q.hasManifest.get(repository, digest)) return UNKNOWN;
      const refused = deleteRefusal(rules, {
        kind: 'manifest',
        digest,
        tags: this.q.tagsOf.all(repository, digest) as string[],
        listedByIndex: this.q.manifestReferenced.get(repository, digest) !== undefined,
      });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      this.q.deleteManifest.run(repository, digest);
      // A client may have seen these blobs as present a moment ago and be about to reference them: the
      // GC grace period restarts now (see gc/README.md).
      this.q.touchLinksOfManifest.run(now, repository, repository, digest);
      this.q.deleteRefs.run(repository, digest);
      this.q.deleteTagsOf.run(repository, digest);
      this.forgetRepositoryIfEmpty(repository);
      return OK;
    });
  }

  async deleteTag(repository: string, tag: string, rules: WriteRules): Promise<DeleteOutcome> {
    return this.tx((): DeleteOutcome => {
      if (this.q.resolveTag.get(repository, tag) === undefined) return UNKNOWN;
      const refused = deleteRefusal(rules, { kind: 'tag', tag });
      if (refused) return { ok: false, reason: 'immutable', ...refused };
      this.q.deleteTag.run(repository, tag);
      return OK;
    });
  }

  async listTags(repository: string, page: Page): Promise<string[]> {
    return this.q.listTags.all(repository, page.last ?? '', page.n ?? -1) as string[];
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return this.exists(repository);
  }

  async listRepositories(page: Page): Promise<string[]> {
    return this.q.listRepos.all(page.last ?? '', page.n ?? -1) as string[];
  }

  async referrers(repository: string, subject: string, artifactType?: string): Promise<Referrer[]> {
    const own = this.q.referrers.all(repository, subject) as ReferrerRow[];
    const byDigest = new Map(own.map((r) => [r.digest, r]));
    for (const r of this.q.attachedReferrers.all(repository, subject) as ReferrerRow[]) if (!byDigest.has(r.digest)) byDigest.set(r.digest, r);
    const rows = [...byDigest.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    return rows.filter((r) => artifactType === undefined || r.artifact_type === artifactType).map(toReferrer);
  }

  // --- upload sessions -----------------------------------------------------------------------------

  async createUpload(id: string, repository: string, state: UploadState): Promise<UploadRecord> {
    const now = this.now();
    this.q.createUpload.run(id, repository, JSON.stringify(state), now, now);
    return { id, repository, offset: state.size, state, startedAt: now, updatedAt: now };
  }

  async getUpload(id: string): Promise<UploadRecord | null> {
    const r = this.q.getUpload.get(id) as UploadRow | undefined;
    return r ? toUpload(r) : null;
  }

  async claimUpload(id: string, owner: string, ttlMs: number): Promise<UploadRecord | 'busy' | null> {
    const now = this.now();
    return this.tx(() => {
      const r = this.q.getUpload.get(id) as UploadRow | undefined;
      if (!r) return null;
      if (this.q.claimUpload.run({ id, owner, until: now + ttlMs, now }).changes === 0) return 'busy';
      return toUpload(r);
    });
  }

  async renewUpload(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.q.renewUpload.run({ id, owner, until: this.now() + ttlMs }).changes > 0;
  }

  async saveUpload(id: string, owner: string, state: UploadState): Promise<boolean> {
    return this.q.saveUpload.run({ id, owner, offset: state.size, state: JSON.stringify(state), now: this.now() }).changes > 0;
  }

  async releaseUpload(id: string, owner: string): Promise<void> {
    this.q.releaseUpload.run(id, owner);
  }

  async deleteUpload(id: string): Promise<void> {
    this.q.deleteUpload.run(id);
  }

  async staleUploads(before: number): Promise<UploadRecord[]> {
    return (this.q.staleUploads.all(before, this.now()) as UploadRow[]).map(toUpload);
  }

  private exists(repository: string): boolean {
    return (this.q.repoHasContent.get({ name: repository }) as { present: number }).present === 1;
  }

  private forgetRepositoryIfEmpty(repository: string): void {
    if (!this.exists(repository)) this.q.deleteRepo.run(repository);
  }
}
