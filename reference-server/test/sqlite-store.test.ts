/** The SQLite MetadataStore: the metadata contract, plus persistence across reopen. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openDatabase, SqliteMetadataStore } from '../src/metadata/sqlite-store.js';
import { metadataStoreContract } from './metadata-contract.js';

t.test('contract', async (t) => {
  metadataStoreContract(t, (now) => {
    const dir = mkdtempSync(join(tmpdir(), 'nitro-sqlite-store-'));
    const store = new SqliteMetadataStore(openDatabase(join(dir, 'registry.db')), { now });
    return { store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  });
});

t.test('everything survives closing and reopening the database file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nitro-sqlite-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'registry.db');
  const a = new SqliteMetadataStore(openDatabase(file, { durability: 'full' }));
  const d = `sha256:${'1'.repeat(64)}`;
  a.addBlobAndLink(d, 42, 'r');
  a.createUpload('session-1', 'r');
  a.setUploadOffset('session-1', 99);
  const body = Buffer.from('{"schemaVersion":2}');
  const md = `sha256:${'2'.repeat(64)}`;
  a.putManifest(
    { repository: 'r', digest: md, mediaType: 'application/vnd.oci.image.manifest.v1+json', body, subject: null, artifactType: null, annotations: null, references: [{ digest: d, kind: 'blob' }] },
    'v1',
    { allowTagOverwrite: true },
  );
  a.close();
  const b = new SqliteMetadataStore(openDatabase(file));
  t.teardown(() => b.close());
  t.equal(b.getLinkedBlob('r', d)?.size, 42);
  t.equal(b.getUpload('session-1')?.offset, 99);
  t.equal(b.resolveTag('r', 'v1'), md);
  t.ok(Buffer.from(b.getManifest('r', md)!.body).equals(body));
});
