/** Marking and sweeping on the metadata store: what GC keeps and what it frees. */
import t from 'tap';
import { makeFixture } from './fixture.js';

const G0 = { graceSeconds: 0 };

t.test('shared layers across tags and repositories survive deleting one tag', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const v1 = await f.image('proj/app', 'v1', ['base', 'only-v1']);
  const v2 = await f.image('proj/app', 'v2', ['base', 'only-v2']);
  const other = await f.image('other/app', 'v1', ['base', 'only-other']);
  f.advance(1);

  // Deleting only the tag keeps the manifest (untagged manifests are kept by default): nothing goes.
  t.ok(await f.deleteTag('proj/app', 'v1'));
  let r = await f.gc.run(G0);
  t.equal(r.manifests_deleted, 0);
  t.equal(r.blobs_deleted, 0);
  for (const d of [...v1.blobs, ...v2.blobs, ...other.blobs]) t.ok(await f.blobStored(d), `kept ${d}`);

  // With delete_untagged the untagged v1 manifest goes, and with it the blobs only it used.
  r = await f.gc.run({ ...G0, deleteUntagged: true });
  t.equal(r.manifests_deleted, 1);
  t.equal(await f.meta.getManifest('proj/app', v1.digest), null);
  const onlyV1 = v1.blobs.filter((d) => ![...v2.blobs, ...other.blobs].includes(d));
  t.equal(onlyV1.length, 2, 'v1 had a config and a layer of its own');
  for (const d of onlyV1) t.ok(await f.blobGone(d), `freed ${d}`);
  t.equal(r.blobs_deleted, 2);
  for (const d of [...v2.blobs, ...other.blobs]) t.ok(await f.blobStored(d), `kept ${d}`);
  t.ok(await f.meta.getLinkedBlob('proj/app', v2.blobs[1]!), 'the shared base layer is still linked in proj/app');
  t.ok(await f.meta.getLinkedBlob('other/app', other.blobs[1]!), 'and in other/app');
  t.equal(await f.meta.resolveTag('proj/app', 'v2'), v2.digest);
});

t.test('deleting a manifest frees what only it used; a layer shared with another repository stays', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const a = await f.image('a/app', 'latest', ['shared', 'a-only']);
  const b = await f.image('b/app', 'latest', ['shared']);
  f.advance(1);
  t.ok(await f.deleteManifest('a/app', a.digest));
  const r = await f.gc.run(G0);
  t.equal(r.blobs_deleted, 2, 'config and a-only');
  t.ok(await f.blobGone(a.blobs[0]!));
  t.ok(await f.blobGone(a.blobs[2]!));
  t.ok(await f.blobStored(a.blobs[1]!), 'shared layer stays: b/app references it');
  t.equal(await f.meta.getLinkedBlob('a/app', a.blobs[1]!), null, "a/app's link to the shared layer is gone");
  for (const d of b.blobs) t.ok(await f.blobStored(d));
});

t.test('an index keeps its children; deleting it frees children no one else uses', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const amd64 = await f.image('multi/app', null, ['common', 'amd64-layer']);
  const arm64 = await f.image('multi/app', null, ['common', 'arm64-layer']);
  const idx = await f.index('multi/app', 'v1', [amd64, arm64]);
  const solo = await f.image('multi/app', 'arm', ['arm64-layer']); // arm64-layer also used here
  const idx2 = await f.index('multi/app', 'v2', [arm64]);
  f.advance(10);

  let r = await f.gc.run({ ...G0, deleteUntagged: true });
  t.equal(r.manifests_deleted, 0, 'children of tagged indexes are kept although untagged');
  t.equal(r.blobs_deleted, 0);

  t.ok(await f.deleteManifest('multi/app', idx.digest));
  r = await f.gc.run({ ...G0, deleteUntagged: true });
  t.equal(r.manifests_deleted, 1, 'amd64 child is freed; arm64 child is kept by index v2');
  t.equal(await f.meta.getManifest('multi/app', amd64.digest), null);
  t.ok(await f.meta.getManifest('multi/app', arm64.digest));
  t.ok(await f.meta.getManifest('multi/app', idx2.digest));
  t.ok(await f.blobGone(amd64.blobs[0]!), 'amd64 config freed');
  t.ok(await f.blobGone(amd64.blobs[2]!), 'amd64 layer freed');
  t.ok(await f.blobStored(amd64.blobs[1]!), 'common layer kept (arm64 uses it)');
  for (const d of [...arm64.blobs, ...solo.blobs]) t.ok(await f.blobStored(d));

  // Without delete_untagged, deleting the last index keeps the (now untagged) child.
  t.ok(await f.deleteManifest('multi/app', idx2.digest));
  r = await f.gc.run(G0);
  t.equal(r.manifests_deleted, 0);
  t.ok(await f.meta.getManifest('multi/app', arm64.digest));
});

t.test('referrers live exactly as long as their subject', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const img = await f.image('sig/app', 'v1', ['layer']);
  const sig = await f.image('sig/app', null, ['signature-payload'], { subject: img, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
  const sbomOfSig = await f.image('sig/app', null, ['attestation-on-sig'], { subject: sig, artifactType: 'application/spdx+json' });
  f.advance(5);

  let r = await f.gc.run({ ...G0, deleteUntagged: true });
  t.equal(r.manifests_deleted, 0, 'untagged referrers of a kept subject are kept, transitively');

  t.ok(await f.deleteManifest('sig/app', img.digest));
  r = await f.gc.run(G0); // not even delete_untagged: the subject is gone, so are its referrers
  t.equal(r.manifests_deleted, 2);
  t.equal(await f.meta.getManifest('sig/app', sig.digest), null);
  t.equal(await f.meta.getManifest('sig/app', sbomOfSig.digest), null);
  for (const d of [...img.blobs, ...sig.blobs, ...sbomOfSig.blobs]) t.ok(await f.blobGone(d), `freed ${d}`);
  t.equal(await f.meta.repositoryExists('sig/app'), false);
});

t.test('a referrer pushed before its subject is kept through the grace period', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const ghost = { digest: `sha256:${'ab'.repeat(32)}`, blobs: [], size: 10 };
  const early = await f.image('early/app', null, ['payload'], { subject: ghost });
  let r = await f.gc.run({ graceSeconds: 60 });
  t.equal(r.manifests_deleted, 0);
  f.advance(61);
  r = await f.gc.run({ graceSeconds: 60 });
  t.equal(r.manifests_deleted, 1, 'subject never came: swept after the grace period');
  for (const d of early.blobs) t.ok(await f.blobGone(d));
});

t.test('the grace period protects fresh uploads and recently dereferenced blobs', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const fresh = await f.pushBlob('g/app', 'uploaded, manifest not pushed yet');
  let r = await f.gc.run({ graceSeconds: 600 });
  t.equal(r.links_deleted, 0);
  t.ok(await f.blobStored(fresh));

  const img = await f.image('g/app', 'v1', ['old-layer']);
  f.advance(3600); // everything is an hour old...
  t.ok(await f.deleteManifest('g/app', img.digest)); // ...but dereferenced just now
  r = await f.gc.run({ graceSeconds: 600 });
  t.equal(r.links_deleted, 1, 'only the fresh blob (now an hour old) goes');
  t.ok(await f.blobGone(fresh));
  for (const d of img.blobs) t.ok(await f.blobStored(d), 'a client may be about to reference what it just saw');
  f.advance(601);
  r = await f.gc.run({ graceSeconds: 600 });
  t.equal(r.blobs_deleted, 2);
  for (const d of img.blobs) t.ok(await f.blobGone(d));
});

t.test('default grace is 10 minutes; config and per-repository settings apply', async (t) => {
  const f = await makeFixture(t.testdir(), { gcConfig: { grace_seconds: 30, repositories: { fast: { grace_seconds: 0 } } } });
  t.teardown(f.close);
  const a = await f.pushBlob('slow/app', 'a');
  const b = await f.pushBlob('fast/app', 'b');
  const { prefixScope } = await import('../../src/gc/scope.js');
  let r = await f.gc.run({ scope: prefixScope('fast', 'fast') });
  t.equal(r.blobs_deleted, 1, 'repository fast has grace 0');
  t.ok(await f.blobGone(b));
  r = await f.gc.run({ scope: prefixScope('slow', 'slow') });
  t.equal(r.blobs_deleted, 0);
  f.advance(31);
  r = await f.gc.run({ scope: prefixScope('slow', 'slow') });
  t.equal(r.blobs_deleted, 1);
  t.ok(await f.blobGone(a));
});

t.test('a GC scoped to one repository never deletes a blob another repository links or references', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const { prefixScope } = await import('../../src/gc/scope.js');
  const shared = await f.pushBlob('team-a/app', 'shared bytes');
  await f.pushBlob('team-b/app', 'shared bytes');
  const bImg = await f.image('team-b/app', 'v1', ['shared bytes']);
  f.advance(1);
  const r = await f.gc.run({ graceSeconds: 0, scope: prefixScope('team-a', 'team-a') });
  t.equal(r.links_deleted, 1, "team-a's unreferenced link goes");
  t.equal(r.blobs_deleted, 0, 'the blob stays: team-b links and references it');
  t.ok(await f.blobStored(shared));
  t.ok(await f.meta.getLinkedBlob('team-b/app', shared));
  t.equal(await f.meta.getLinkedBlob('team-a/app', shared), null);
  t.same(await Promise.all(bImg.blobs.map((d) => f.blobStored(d))), bImg.blobs.map(() => true));
});

t.test('dry run reports exactly what a real run deletes and changes nothing', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const keep = await f.image('d/app', 'keep', ['k1', 'shared']);
  const drop = await f.image('d/app', 'drop', ['d1', 'shared']);
  await f.pushBlob('d/app', 'dangling upload');
  await f.meta.createUpload('0123456789abcdef', 'd/app', { size: 0, hash: '' });
  f.advance(7200);
  t.ok(await f.deleteTag('d/app', 'drop'));
  const snapshot = async () => ({
    tables: ['blobs', 'repo_blobs', 'manifests', 'manifest_refs', 'tags', 'uploads'].map((tb) => f.db.prepare(`SELECT * FROM ${tb} ORDER BY 1, 2`).all()),
    files: await Promise.all([...keep.blobs, ...drop.blobs].map((d) => f.blobStored(d))),
  });
  const before = await snapshot();
  const dry = await f.gc.run({ graceSeconds: 0, deleteUntagged: true, dryRun: true });
  t.same(await snapshot(), before, 'nothing changed');
  t.equal(dry.dry_run, true);
  t.ok(dry.manifests_deleted > 0 && dry.blobs_deleted > 0 && dry.uploads_purged === 1);
  const real = await f.gc.run({ graceSeconds: 0, deleteUntagged: true });
  for (const k of ['manifests_deleted', 'links_deleted', 'blobs_deleted', 'bytes_freed', 'uploads_purged'] as const) {
    t.equal(real[k], dry[k], `${k}: dry run predicted ${dry[k]}`);
  }
  t.equal(await f.meta.getUpload('0123456789abcdef'), null, 'expired upload session purged');
  for (const d of keep.blobs) t.ok(await f.blobStored(d));
});

t.test('orphan files (no record) older than the grace period are removed; recorded blobs never', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  const { digestOf } = await import('../../src/oci/digest.js');
  const orphan = digestOf('crashed between rename and insert');
  mkdirSync(dirname(f.blobPath(orphan)), { recursive: true });
  writeFileSync(f.blobPath(orphan), 'crashed between rename and insert');
  const img = await f.image('o/app', 'v1', ['l']);
  let r = await f.gc.run({ graceSeconds: 60 });
  t.equal(r.orphan_files_deleted, 0, 'too recent');
  f.advance(61);
  r = await f.gc.run({ graceSeconds: 60 });
  t.equal(r.orphan_files_deleted, 1);
  t.ok(await f.blobGone(orphan));
  for (const d of img.blobs) t.ok(await f.blobStored(d));
});

t.test('upload scratch files without a session record go once older than the upload TTL; live sessions stay', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const { writeFileSync, existsSync, utimesSync } = await import('node:fs');
  const { join } = await import('node:path');
  const stray = join(f.dir, 'uploads', 'aaaaaaaa-0000-4000-8000-000000000001');
  const live = join(f.dir, 'uploads', 'bbbbbbbb-0000-4000-8000-000000000002');
  writeFileSync(stray, 'left by a crash before its session record');
  writeFileSync(live, 'a session in progress');
  await f.meta.createUpload('bbbbbbbb-0000-4000-8000-000000000002', 'o/app', { size: 0, hash: '' });
  let r = await f.gc.run({ graceSeconds: 0 });
  t.ok(existsSync(stray), 'a fresh stray file is left alone (its record may be about to be written)');
  // Both files look two hours old; the fixture's upload TTL is one hour.
  const old = (Date.now() - 2 * 3600_000) / 1000;
  utimesSync(stray, old, old);
  utimesSync(live, old, old);
  await f.meta.claimUpload('bbbbbbbb-0000-4000-8000-000000000002', 'test', 1000);
  await f.meta.saveUpload('bbbbbbbb-0000-4000-8000-000000000002', 'test', { size: 21, hash: '' }); // the session itself is active
  r = await f.gc.run({ graceSeconds: 0 });
  t.notOk(existsSync(stray), 'the stray scratch file is removed');
  t.ok(existsSync(live), 'a file with a session record is never removed by this sweep');
  t.equal(r.orphan_files_deleted, 1);
});
