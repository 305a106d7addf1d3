/**
 * The MetadataStore contract (src/metadata/store.ts), as a suite any implementation runs: call
 * `metadataStoreContract(t, factory)` (sqlite-store.test.ts does). Each subtest gets a fresh, empty
 * store whose clock the test controls.
 */
import { createHash } from 'node:crypto';
import type { Test } from 'tap';
import type { ManifestReference, MetadataStore, NewManifest } from '../src/metadata/store.js';

export interface MetadataStoreHandle {
  readonly store: MetadataStore;
  cleanup(): Promise<void> | void;
}

/** Builds an empty store reading time from `now`. */
export type MetadataStoreFactory = (now: () => number) => Promise<MetadataStoreHandle> | MetadataStoreHandle;

const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let n = 0;
function manifest(repository: string, references: ManifestReference[] = [], extra: Partial<NewManifest> = {}): NewManifest {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, n: n++, references }));
  return {
    repository,
    digest: digest(body.toString()),
    mediaType: OCI_MANIFEST,
    body,
    subject: null,
    artifactType: null,
    annotations: null,
    references,
    ...extra,
  };
}

const OVERWRITE = { allowTagOverwrite: true };
const NO_OVERWRITE = { allowTagOverwrite: false };

export function metadataStoreContract(t: Test, factory: MetadataStoreFactory): void {
  const withStore = (name: string, fn: (t: Test, store: MetadataStore, clock: { now: number }) => Promise<void> | void) =>
    t.test(name, async (t) => {
      const clock = { now: 1_700_000_000_000 };
      const h = await factory(() => clock.now);
      t.teardown(async () => {
        h.store.close();
        await h.cleanup();
      });
      await fn(t, h.store, clock);
    });

  // --- blobs ---------------------------------------------------------------------------------------

  withStore('getBlob / addBlobAndLink: recorded once, idempotent, linked into the repository', (t, s, clock) => {
    const d = digest('blob');
    t.equal(s.getBlob(d), null);
    s.addBlobAndLink(d, 123, 'a');
    t.same(s.getBlob(d), { digest: d, size: 123, createdAt: clock.now });
    clock.now += 1000;
    s.addBlobAndLink(d, 123, 'b');
    t.equal(s.getBlob(d)!.createdAt, clock.now - 1000, 'a second add keeps the first record');
    t.same(s.getLinkedBlob('a', d), { digest: d, size: 123, createdAt: clock.now - 1000 });
    t.ok(s.getLinkedBlob('b', d));
    t.equal(s.getLinkedBlob('c', d), null, 'not visible where not linked');
    t.same(s.repositoriesWithBlob(d), ['a', 'b']);
    t.same(s.repositoriesWithBlob(digest('other')), []);
  });

  withStore('linkBlob: false for an unknown blob, true and visible for a known one', (t, s) => {
    const d = digest('x');
    t.equal(s.linkBlob(d, 'dst'), false);
    t.equal(s.getLinkedBlob('dst', d), null);
    t.notOk(s.repositoryExists('dst'), 'a failed link creates no repository');
    s.addBlobAndLink(d, 1, 'src');
    t.equal(s.linkBlob(d, 'dst'), true);
    t.ok(s.getLinkedBlob('dst', d));
    t.equal(s.linkBlob(d, 'dst'), true, 'linking twice is fine');
    t.same(s.repositoriesWithBlob(d), ['dst', 'src']);
  });

  withStore('unlinkBlob: removes the link only; false when there was none', (t, s) => {
    const d = digest('y');
    s.addBlobAndLink(d, 5, 'a');
    s.addBlobAndLink(d, 5, 'b');
    t.equal(s.unlinkBlob('a', d), true);
    t.equal(s.getLinkedBlob('a', d), null);
    t.ok(s.getLinkedBlob('b', d), 'other links stay');
    t.ok(s.getBlob(d), 'the blob record stays (left to GC)');
    t.equal(s.unlinkBlob('a', d), false);
    t.equal(s.unlinkBlob('nowhere', d), false);
  });

  // --- manifests -------------------------------------------------------------------------------------

  withStore('putManifest stores bytes and metadata, and points the tag at it', (t, s, clock) => {
    const cfg = digest('cfg');
    s.addBlobAndLink(cfg, 10, 'r');
    const subj = digest('subject');
    const m = manifest('r', [{ digest: cfg, kind: 'blob' }], {
      subject: subj,
      artifactType: 'application/x-sig',
      annotations: { a: 'b' },
    });
    t.notOk(s.blobReferenced('r', cfg), 'linked but not yet referenced');
    t.same(s.putManifest(m, 'v1', OVERWRITE), { missing: [] });
    t.ok(s.blobReferenced('r', cfg), 'blobReferenced once a stored manifest names it');
    t.notOk(s.blobReferenced('other', cfg), 'per repository');
    const got = s.getManifest('r', m.digest)!;
    t.ok(got, 'stored');
    t.ok(Buffer.from(got.body).equals(m.body), 'body bytes verbatim');
    t.match(got, {
      repository: 'r',
      digest: m.digest,
      mediaType: OCI_MANIFEST,
      size: m.body.length,
      subject: subj,
      artifactType: 'application/x-sig',
      annotations: { a: 'b' },
      createdAt: clock.now,
    });
    t.equal(s.resolveTag('r', 'v1'), m.digest);
    t.equal(s.getManifest('other', m.digest), null, 'per repository');
    t.ok(s.repositoryExists('r'));
    t.same(s.putManifest(m, null, OVERWRITE), { missing: [] }, 'idempotent by digest');
  });

  withStore('putManifest with missing references writes nothing (atomic), even with a tag', (t, s) => {
    const have = digest('have');
    const lack = digest('lack');
    const childLack = digest('child');
    s.addBlobAndLink(have, 1, 'r');
    s.addBlobAndLink(lack, 1, 'elsewhere'); // known blob, but not linked here
    const old = manifest('r', [{ digest: have, kind: 'blob' }]);
    s.putManifest(old, 'v1', OVERWRITE);

    const m = manifest('r', [
      { digest: have, kind: 'blob' },
      { digest: lack, kind: 'blob' },
    ]);
    const res = s.putManifest(m, 'v1', OVERWRITE);
    t.same(res.missing, [{ digest: lack, kind: 'blob' }], 'the missing blob is reported');
    t.equal(s.getManifest('r', m.digest), null, 'manifest not stored');
    t.equal(s.resolveTag('r', 'v1'), old.digest, 'tag not moved');

    const idx = manifest('r', [{ digest: childLack, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(s.putManifest(idx, 'idx', OVERWRITE).missing, [{ digest: childLack, kind: 'manifest' }]);
    t.equal(s.resolveTag('r', 'idx'), null);

    // A blob with the child's digest does not stand in for a child manifest.
    s.addBlobAndLink(childLack, 1, 'r');
    t.equal(s.putManifest(idx, 'idx', OVERWRITE).missing.length, 1, 'a linked blob is not a stored manifest');

    const fresh = manifest('new/repo', [{ digest: lack, kind: 'blob' }]);
    s.putManifest(fresh, 't', OVERWRITE);
    t.notOk(s.repositoryExists('new/repo'), 'a refused manifest creates no repository');
    t.notOk(s.listRepositories({}).includes('new/repo'));
  });

  withStore('an index referencing stored child manifests is accepted', (t, s) => {
    const child = manifest('r');
    s.putManifest(child, null, OVERWRITE);
    const idx = manifest('r', [{ digest: child.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(s.putManifest(idx, 'multi', OVERWRITE), { missing: [] });
    t.equal(s.getManifest('r', idx.digest)!.mediaType, OCI_INDEX);
    const elsewhere = manifest('other', [{ digest: child.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.equal(s.putManifest(elsewhere, null, OVERWRITE).missing.length, 1, 'children must be in the same repository');
  });

  withStore('allowTagOverwrite=false: a tag naming another digest is a conflict and nothing is written', (t, s) => {
    const a = manifest('r');
    const b = manifest('r');
    t.same(s.putManifest(a, 'v1', NO_OVERWRITE), { missing: [] }, 'a new tag is fine');
    t.same(s.putManifest(a, 'v1', NO_OVERWRITE), { missing: [] }, 'the same digest again is fine');
    const res = s.putManifest(b, 'v1', NO_OVERWRITE);
    t.same(res.missing, []);
    t.same(res.tagConflict, { existingDigest: a.digest });
    t.equal(s.resolveTag('r', 'v1'), a.digest, 'tag unchanged');
    t.equal(s.getManifest('r', b.digest), null, 'the conflicting manifest is not stored either');
    t.same(s.putManifest(b, 'v1', OVERWRITE), { missing: [] }, 'with overwrite allowed the tag moves');
    t.equal(s.resolveTag('r', 'v1'), b.digest);
    t.same(s.putManifest(b, null, NO_OVERWRITE), { missing: [] }, 'no tag, no conflict');
  });

  withStore('allowTagOverwrite=false still follows a multi-platform push: up to the index, children kept under it', (t, s) => {
    const attestationBody = (n: string) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, n, layers: [{ mediaType: 'application/vnd.in-toto+json', digest: digest(n), size: 1 }] }));
    const amd = manifest('r');
    const evil = manifest('r');
    const attBody = attestationBody('att-amd');
    const att = manifest('r', [], { body: attBody, digest: digest(attBody.toString()), attestation: true });
    s.putManifest(evil, null, NO_OVERWRITE);
    t.same(s.putManifest(amd, 'v1', NO_OVERWRITE), { missing: [] }, 'a child pushed to the tag first');
    t.same(s.putManifest(att, 'v1', NO_OVERWRITE), { missing: [], tagKept: true }, 'its attestation is stored without taking the tag');
    t.equal(s.resolveTag('r', 'v1'), amd.digest);
    const wrapped = manifest('r', [{ digest: amd.digest, kind: 'manifest' }, { digest: evil.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(
      s.putManifest(wrapped, 'v1', NO_OVERWRITE).tagConflict,
      { existingDigest: amd.digest },
      'an index that wraps the current image next to another runnable manifest is a conflict',
    );
    const idx = manifest('r', [{ digest: amd.digest, kind: 'manifest' }, { digest: att.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(s.putManifest(idx, 'v1', NO_OVERWRITE), { missing: [] }, 'the index of the current target and its attestation takes the tag');
    t.equal(s.resolveTag('r', 'v1'), idx.digest);
    t.same(s.putManifest(amd, 'v1', NO_OVERWRITE), { missing: [], tagKept: true }, 'a child re-sent to the tag is stored, the tag stays');
    t.equal(s.resolveTag('r', 'v1'), idx.digest, 'tag still on the index');
    t.same(s.putManifest(evil, 'v1', NO_OVERWRITE).tagConflict, { existingDigest: idx.digest }, 'a manifest outside the index is still a conflict');
    const idx2 = manifest('r', [{ digest: idx.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(s.putManifest(idx2, 'v1', NO_OVERWRITE).tagConflict, undefined, 'an index listing only the current index (nothing runnable added) may take it');
    t.equal(s.resolveTag('r', 'v1'), idx2.digest);
    t.ok(s.blobReferenced('r', digest('nope')) === false, 'blobReferenced: false for an unreferenced digest');
    t.ok(s.manifestReferenced('r', amd.digest), 'manifestReferenced: a child of a stored index');
    t.notOk(s.manifestReferenced('r', evil.digest), 'manifestReferenced: false for a manifest no index lists');
    const att2 = manifest('r', [], { attestation: true });
    t.same(s.putManifest(att2, 'v2', NO_OVERWRITE), { missing: [], tagKept: true }, 'an attestation never takes an immutable tag');
    t.equal(s.resolveTag('r', 'v2'), null, 'not even a fresh one');
    t.ok(s.getManifest('r', att2.digest), 'but it is stored');
    t.same(s.putManifest(att2, 'v3', OVERWRITE), { missing: [] }, 'with overwrite allowed it is an ordinary tag write');
  });

  withStore('deleteManifest removes the manifest and every tag on it', (t, s) => {
    const a = manifest('r');
    const b = manifest('r');
    s.putManifest(a, 'a1', OVERWRITE);
    s.putManifest(a, 'a2', OVERWRITE);
    s.putManifest(b, 'b1', OVERWRITE);
    t.same(s.tagsOf('r', a.digest), ['a1', 'a2']);
    t.equal(s.deleteManifest('r', a.digest), true);
    t.equal(s.getManifest('r', a.digest), null);
    t.equal(s.resolveTag('r', 'a1'), null);
    t.equal(s.resolveTag('r', 'a2'), null);
    t.same(s.tagsOf('r', a.digest), []);
    t.equal(s.resolveTag('r', 'b1'), b.digest, 'other tags stay');
    t.equal(s.deleteManifest('r', a.digest), false, 'second delete');
    t.equal(s.deleteManifest('nope', a.digest), false);
  });

  withStore('deleteTag removes only the tag', (t, s) => {
    const a = manifest('r');
    s.putManifest(a, 'x', OVERWRITE);
    s.putManifest(a, 'y', OVERWRITE);
    t.equal(s.deleteTag('r', 'x'), true);
    t.equal(s.resolveTag('r', 'x'), null);
    t.equal(s.resolveTag('r', 'y'), a.digest);
    t.ok(s.getManifest('r', a.digest), 'manifest stays');
    t.equal(s.deleteTag('r', 'x'), false);
  });

  withStore('listTags: byte order, n and last; tagsOf sorted', (t, s) => {
    const a = manifest('r');
    const tags = ['b', 'B', 'a', '_x', '1', 'a.b', 'a-b', 'Z9'];
    for (const tag of tags) s.putManifest(a, tag, OVERWRITE);
    const sorted = [...tags].sort();
    t.same(s.listTags('r', {}), sorted);
    t.same(s.listTags('r', { n: 3 }), sorted.slice(0, 3));
    t.same(s.listTags('r', { last: sorted[2]! }), sorted.slice(3));
    t.same(s.listTags('r', { n: 2, last: sorted[2]! }), sorted.slice(3, 5));
    t.same(s.listTags('r', { last: 'zzz' }), []);
    t.same(s.listTags('unknown', {}), []);
    t.same(s.tagsOf('r', a.digest), sorted);
  });

  withStore('repositoryExists and listRepositories follow content', (t, s) => {
    t.notOk(s.repositoryExists('a'));
    t.same(s.listRepositories({}), []);
    const d = digest('blob-a');
    s.addBlobAndLink(d, 1, 'a');
    t.ok(s.repositoryExists('a'), 'a blob link is content');
    const m = manifest('c/d');
    s.putManifest(m, 'v', OVERWRITE);
    s.addBlobAndLink(digest('blob-b'), 1, 'b');
    t.same(s.listRepositories({}), ['a', 'b', 'c/d']);
    t.same(s.listRepositories({ n: 2 }), ['a', 'b']);
    t.same(s.listRepositories({ last: 'a' }), ['b', 'c/d']);
    t.same(s.listRepositories({ n: 1, last: 'a' }), ['b']);

    t.equal(s.unlinkBlob('a', d), true);
    t.notOk(s.repositoryExists('a'), 'no content left');
    t.same(s.listRepositories({}), ['b', 'c/d'], 'emptied repository leaves the catalog');
    t.equal(s.deleteManifest('c/d', m.digest), true);
    t.notOk(s.repositoryExists('c/d'));
    t.same(s.listRepositories({}), ['b']);
  });

  withStore('referrers: by subject, per repository, optional artifactType filter', (t, s) => {
    const subject = manifest('r');
    s.putManifest(subject, 'v1', OVERWRITE);
    const sig = manifest('r', [], { subject: subject.digest, artifactType: 'application/x-sig', annotations: { k: 'v' } });
    const sbom = manifest('r', [], { subject: subject.digest, artifactType: 'application/x-sbom' });
    const otherRepo = manifest('o', [], { subject: subject.digest, artifactType: 'application/x-sig' });
    for (const m of [sig, sbom, otherRepo]) s.putManifest(m, null, OVERWRITE);
    const all = s.referrers('r', subject.digest);
    t.same(
      all.map((r) => r.digest).sort(),
      [sig.digest, sbom.digest].sort(),
    );
    t.same(
      all.find((r) => r.digest === sig.digest),
      { digest: sig.digest, mediaType: OCI_MANIFEST, size: sig.body.length, artifactType: 'application/x-sig', annotations: { k: 'v' } },
    );
    t.same(
      s.referrers('r', subject.digest, 'application/x-sbom').map((r) => r.digest),
      [sbom.digest],
    );
    t.same(s.referrers('r', digest('nothing')), []);
    s.deleteManifest('r', sig.digest);
    t.same(
      s.referrers('r', subject.digest).map((r) => r.digest),
      [sbom.digest],
    );
  });

  // --- upload sessions -------------------------------------------------------------------------------

  withStore('upload sessions: create, get, set offset, stale, delete', (t, s, clock) => {
    const t0 = clock.now;
    t.same(s.createUpload('u1', 'r'), { id: 'u1', repository: 'r', offset: 0, startedAt: t0, updatedAt: t0 });
    t.same(s.getUpload('u1'), { id: 'u1', repository: 'r', offset: 0, startedAt: t0, updatedAt: t0 });
    t.equal(s.getUpload('nope'), null);
    clock.now += 5000;
    s.createUpload('u2', 'r');
    clock.now += 5000;
    s.setUploadOffset('u1', 1234);
    t.same(s.getUpload('u1'), { id: 'u1', repository: 'r', offset: 1234, startedAt: t0, updatedAt: t0 + 10_000 });
    t.same(
      s.staleUploads(t0 + 6000).map((u) => u.id),
      ['u2'],
      'only sessions not updated since the cutoff',
    );
    t.same(
      s.staleUploads(t0 + 20_000).map((u) => u.id).sort(),
      ['u1', 'u2'],
    );
    s.deleteUpload('u1');
    t.equal(s.getUpload('u1'), null);
    s.deleteUpload('u1'); // missing is fine
    t.same(
      s.staleUploads(t0 + 20_000).map((u) => u.id),
      ['u2'],
    );
    t.notOk(s.repositoryExists('r'), 'an upload session is not repository content');
  });
}
