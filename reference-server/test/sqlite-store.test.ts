/** The SQLite backend: the metadata, GC and shared-state contracts, plus persistence and migrations. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openSqliteBackend } from '../src/metadata/sqlite/index.js';
import { LATEST_VERSION, migrate } from '../src/metadata/sqlite/database.js';
import { metadataStoreContract, addBlob } from './metadata-contract.js';
import { gcStoreContract } from './gc-store-contract.js';
import { sharedStateContract } from './shared-state-contract.js';

const fresh = (now?: () => number) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-sqlite-store-'));
  const backend = openSqliteBackend(dir, now ? { now } : {});
  return { backend, dir, cleanup: async () => { await backend.close(); rmSync(dir, { recursive: true, force: true }); } };
};

t.test('metadata contract', async (t) => {
  metadataStoreContract(t, (now) => {
    const f = fresh(now);
    return { store: f.backend.registry, cleanup: f.cleanup };
  });
});

t.test('gc store contract', async (t) => {
  gcStoreContract(t, (now) => {
    const f = fresh(now);
    return { store: f.backend.registry, gc: f.backend.gc, cleanup: f.cleanup };
  });
});

t.test('shared-state contract', async (t) => {
  sharedStateContract(t, () => {
    const f = fresh();
    return { backend: f.backend, cleanup: f.cleanup };
  });
});

t.test('everything survives closing and reopening the database file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-sqlite-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = openSqliteBackend(dir, { durability: 'full' });
  const d = `sha256:${'1'.repeat(64)}`;
  await addBlob(a.registry, d, 42, 'r');
  await a.registry.createUpload('session-1', 'r', { size: 0, hash: '' });
  await a.registry.claimUpload('session-1', 'me', 1000);
  await a.registry.saveUpload('session-1', 'me', { size: 99, hash: 'h' });
  const body = Buffer.from('{"schemaVersion":2}');
  const md = `sha256:${'2'.repeat(64)}`;
  await a.registry.putManifest(
    { repository: 'r', digest: md, mediaType: 'application/vnd.oci.image.manifest.v1+json', body, subject: null, artifactType: null, annotations: null, references: [{ digest: d, kind: 'blob' }], attestation: false },
    ['v1'],
    { immutableTags: false },
  );
  await a.close();
  const b = openSqliteBackend(dir);
  t.teardown(() => b.close());
  t.equal((await b.registry.getLinkedBlob('r', d))?.size, 42);
  t.equal((await b.registry.getUpload('session-1'))?.offset, 99);
  t.equal(await b.registry.resolveTag('r', 'v1'), md);
  t.ok(Buffer.from((await b.registry.getManifest('r', md))!.body).equals(body));
});

t.test('a database from before versioned migrations upgrades in place and keeps its data', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-sqlite-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'registry.db');
  // The first release's tables, without user_version, holding one session and one attestation manifest.
  const old = new Database(file);
  old.exec(`
    CREATE TABLE manifests (repository TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
      body BLOB NOT NULL, subject TEXT, artifact_type TEXT, annotations TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (repository, digest)) WITHOUT ROWID;
    CREATE TABLE uploads (id TEXT PRIMARY KEY, repository TEXT NOT NULL, offset INTEGER NOT NULL, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE repo_blobs (repository TEXT NOT NULL, digest TEXT NOT NULL, linked_at INTEGER NOT NULL, PRIMARY KEY (repository, digest)) WITHOUT ROWID;
    CREATE TABLE manifest_refs (repository TEXT NOT NULL, digest TEXT NOT NULL, child TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (repository, digest, kind, child)) WITHOUT ROWID;
  `);
  // A buildx index pushed before index-attached referrers existed: migration 3 makes its attestation a referrer.
  const platform = `sha256:${'5'.repeat(64)}`;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: platform, size: 10, platform: { os: 'linux', architecture: 'amd64' } },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${'4'.repeat(64)}`,
        size: 100,
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': platform },
      },
    ],
  });
  const indexDigest = `sha256:${'6'.repeat(64)}`;
  old.prepare('INSERT INTO manifests VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, 1)').run('r', indexDigest, 'application/vnd.oci.image.index.v1+json', index.length, Buffer.from(index));
  old.prepare("INSERT INTO manifest_refs VALUES ('r', ?, ?, 'manifest')").run(indexDigest, `sha256:${'4'.repeat(64)}`);
  old.prepare("INSERT INTO manifest_refs VALUES ('r', ?, ?, 'manifest')").run(indexDigest, platform);
  const att = JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.in-toto+json', digest: `sha256:${'3'.repeat(64)}`, size: 1 }] });
  old.prepare('INSERT INTO manifests VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, 1)').run('r', `sha256:${'4'.repeat(64)}`, 'application/vnd.oci.image.manifest.v1+json', att.length, Buffer.from(att));
  old.prepare('INSERT INTO uploads VALUES (?, ?, ?, 1, 1)').run('old-session-1', 'r', 10);
  old.close();
  const b = openSqliteBackend(dir);
  t.teardown(() => b.close());
  t.equal(b.db.pragma('user_version', { simple: true }), LATEST_VERSION, 'migrated to the latest version');
  t.same(migrate(b.db), [], 'nothing left to apply');
  t.same((await b.registry.getUpload('old-session-1'))?.state, { size: 10, hash: '' }, 'old sessions get a state to resume from');
  t.equal(b.db.prepare('SELECT attestation FROM manifests WHERE digest = ?').pluck().get(`sha256:${'4'.repeat(64)}`), 1, 'attestation manifests are flagged');
  const referrers = await b.registry.referrers('r', platform);
  t.same(referrers.map((r) => [r.digest, r.artifactType]), [[`sha256:${'4'.repeat(64)}`, 'application/vnd.in-toto+json']], 'an index pushed before lists its attestation as a referrer');
});
