/**
 * The MetadataStore contract (src/metadata/store.ts), as a suite every implementation runs: call
 * `metadataStoreContract(t, factory)` (sqlite-store.test.ts and postgres-store.test.ts do). Each subtest
 * gets a fresh, empty store whose clock the test controls. Races are run with Promise.all: on a backend
 * with a connection pool they really run in parallel, and the invariants must hold all the same.
 */
import { createHash } from 'node:crypto';
import type { Test } from 'tap';
import type { ManifestReference, MetadataStore, NewManifest } from '../src/metadata/store.js';
import type { WriteRules } from '../src/registry/immutability.js';

export interface MetadataStoreHandle {
  readonly store: MetadataStore;
  cleanup(): Promise<void> | void;
}

/** Builds an empty store reading time from `now`. */
export type MetadataStoreFactory = (now: () => number) => Promise<MetadataStoreHandle> | MetadataStoreHandle;

export const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let n = 0;
export function manifest(repository: string, references: ManifestReference[] = [], extra: Partial<NewManifest> = {}): NewManifest {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, n: n++, references, pid: process.pid, at: Date.now() }));
  return {
    repository,
    digest: digest(body.toString()),
    mediaType: OCI_MANIFEST,
    body,
    subject: null,
    artifactType: null,
    annotations: null,
    references,
    attestation: false,
    ...extra,
  };
}

const MUTABLE: WriteRules = { immutableTags: false };
const IMMUTABLE: WriteRules = { immutableTags: true };

/** Records a blob and links it into `repository`, as a finished upload does. */
export const addBlob = (s: MetadataStore, d: string, size: number, repository: string) => s.commitBlob(d, repository, async () => ({ size }));

export function metadataStoreContract(t: Test, factory: MetadataStoreFactory): void {
  const withStore = (name: string, fn: (t: Test, store: MetadataStore, clock: { now: number }) => Promise<void>) =>
    t.test(name, async (t) => {
      const clock = { now: 1_700_000_000_000 };
      const h = await factory(() => clock.now);
      t.teardown(() => h.cleanup());
      await fn(t, h.store, clock);
    });

  // --- blobs ---------------------------------------------------------------------------------------

  withStore('commitBlob: recorded once, linked into the repository; getBlob, getLinkedBlob, repositoriesWithBlob', async (t, s, clock) => {
    const d = digest('blob');
    t.equal(await s.getBlob(d), null);
    t.same(await addBlob(s, d, 123, 'a'), { digest: d, size: 123, createdAt: clock.now });
    t.same(await s.getBlob(d), { digest: d, size: 123, createdAt: clock.now });
    clock.now += 1000;
    await addBlob(s, d, 123, 'b');
    t.equal((await s.getBlob(d))!.createdAt, clock.now - 1000, 'a second commit keeps the first record');
    t.same(await s.getLinkedBlob('a', d), { digest: d, size: 123, createdAt: clock.now - 1000 });
    t.ok(await s.getLinkedBlob('b', d));
    t.equal(await s.getLinkedBlob('c', d), null, 'not visible where not linked');
    t.same(await s.repositoriesWithBlob(d), ['a', 'b']);
    t.same(await s.repositoriesWithBlob(digest('other')), []);
  });

  withStore('commitBlob: when publishing fails nothing is recorded; publishing runs before the record exists', async (t, s) => {
    const d = digest('failing');
    await t.rejects(
      s.commitBlob(d, 'r', async () => {
        throw new Error('storage said no');
      }),
      { message: 'storage said no' },
    );
    t.equal(await s.getBlob(d), null);
    t.notOk(await s.repositoryExists('r'), 'no repository either');
    let seenDuringPublish: unknown = 'unset';
    await s.commitBlob(d, 'r', async () => {
      seenDuringPublish = await s.getBlob(d);
      return { size: 7 };
    });
    t.equal(seenDuringPublish, null, 'the record appears only after the bytes are in place');
    t.equal((await s.getBlob(d))?.size, 7);
  });

  withStore('commitBlob of one digest runs one publish at a time (the lock GC shares)', async (t, s) => {
    const d = digest('serial');
    let inside = 0;
    let overlapped = false;
    const publish = async () => {
      inside++;
      if (inside > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, 20));
      inside--;
      return { size: 1 };
    };
    await Promise.all([s.commitBlob(d, 'a', publish), s.commitBlob(d, 'b', publish), s.commitBlob(d, 'c', publish)]);
    t.notOk(overlapped, 'no two publishes of the same digest overlapped');
    t.same(await s.repositoriesWithBlob(d), ['a', 'b', 'c']);
  });

  withStore('linkBlob: false for an unknown blob, true and visible for a known one', async (t, s) => {
    const d = digest('x');
    t.equal(await s.linkBlob(d, 'dst'), false);
    t.equal(await s.getLinkedBlob('dst', d), null);
    t.notOk(await s.repositoryExists('dst'), 'a failed link creates no repository');
    await addBlob(s, d, 1, 'src');
    t.equal(await s.linkBlob(d, 'dst'), true);
    t.ok(await s.getLinkedBlob('dst', d));
    t.equal(await s.linkBlob(d, 'dst'), true, 'linking twice is fine');
    t.same(await s.repositoriesWithBlob(d), ['dst', 'src']);
  });

  withStore('unlinkBlob: removes the link only; unknown when there was none; refused for a referenced blob when immutable', async (t, s) => {
    const d = digest('y');
    await addBlob(s, d, 5, 'a');
    await addBlob(s, d, 5, 'b');
    t.same(await s.unlinkBlob('a', d, MUTABLE), { ok: true });
    t.equal(await s.getLinkedBlob('a', d), null);
    t.ok(await s.getLinkedBlob('b', d), 'other links stay');
    t.ok(await s.getBlob(d), 'the blob record stays (left to GC)');
    t.same(await s.unlinkBlob('a', d, MUTABLE), { ok: false, reason: 'unknown' });
    t.same(await s.unlinkBlob('nowhere', d, MUTABLE), { ok: false, reason: 'unknown' });

    const layer = digest('layer');
    await addBlob(s, layer, 5, 'b');
    const m = manifest('b', [{ digest: layer, kind: 'blob' }]);
    await s.putManifest(m, ['v1'], MUTABLE);
    const refused = await s.unlinkBlob('b', layer, IMMUTABLE);
    t.match(refused, { ok: false, reason: 'immutable', what: /blob that a manifest references/ }, 'a referenced layer stays in an immutable repository');
    t.ok(await s.getLinkedBlob('b', layer));
    t.same(await s.unlinkBlob('b', d, IMMUTABLE), { ok: true }, 'an unreferenced blob may go even when immutable');
    t.same(await s.unlinkBlob('b', layer, MUTABLE), { ok: true }, 'a mutable repository may unlink a referenced blob');
  });

  // --- manifests -------------------------------------------------------------------------------------

  withStore('putManifest stores bytes and metadata, and points the tags at it', async (t, s, clock) => {
    const cfg = digest('cfg');
    await addBlob(s, cfg, 10, 'r');
    const subj = digest('subject');
    const m = manifest('r', [{ digest: cfg, kind: 'blob' }], {
      subject: subj,
      artifactType: 'application/x-sig',
      annotations: { a: 'b' },
    });
    t.same(await s.putManifest(m, ['v1', 'latest'], MUTABLE), { missing: [], tagsSet: ['v1', 'latest'], tagsKept: [] });
    const got = (await s.getManifest('r', m.digest))!;
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
    t.equal(await s.resolveTag('r', 'v1'), m.digest);
    t.equal(await s.resolveTag('r', 'latest'), m.digest);
    t.equal(await s.getManifest('other', m.digest), null, 'per repository');
    t.ok(await s.repositoryExists('r'));
    t.same(await s.putManifest(m, [], MUTABLE), { missing: [], tagsSet: [], tagsKept: [] }, 'idempotent by digest');
  });

  withStore('putManifest with missing references writes nothing (atomic), whatever the tags', async (t, s) => {
    const have = digest('have');
    const lack = digest('lack');
    const childLack = digest('child');
    await addBlob(s, have, 1, 'r');
    await addBlob(s, lack, 1, 'elsewhere'); // known blob, but not linked here
    const old = manifest('r', [{ digest: have, kind: 'blob' }]);
    await s.putManifest(old, ['v1'], MUTABLE);

    const m = manifest('r', [
      { digest: have, kind: 'blob' },
      { digest: lack, kind: 'blob' },
    ]);
    const res = await s.putManifest(m, ['v1', 'v2'], MUTABLE);
    t.same(res.missing, [{ digest: lack, kind: 'blob' }], 'the missing blob is reported');
    t.equal(await s.getManifest('r', m.digest), null, 'manifest not stored');
    t.equal(await s.resolveTag('r', 'v1'), old.digest, 'tag not moved');
    t.equal(await s.resolveTag('r', 'v2'), null, 'no new tag');

    const idx = manifest('r', [{ digest: childLack, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same((await s.putManifest(idx, ['idx'], MUTABLE)).missing, [{ digest: childLack, kind: 'manifest' }]);
    t.equal(await s.resolveTag('r', 'idx'), null);

    // A blob with the child's digest does not stand in for a child manifest.
    await addBlob(s, childLack, 1, 'r');
    t.equal((await s.putManifest(idx, ['idx'], MUTABLE)).missing.length, 1, 'a linked blob is not a stored manifest');

    const fresh = manifest('new/repo', [{ digest: lack, kind: 'blob' }]);
    await s.putManifest(fresh, ['t'], MUTABLE);
    t.notOk(await s.repositoryExists('new/repo'), 'a refused manifest creates no repository');
    t.notOk((await s.listRepositories({})).includes('new/repo'));
  });

  withStore('an index referencing stored child manifests is accepted; children must be in the same repository', async (t, s) => {
    const child = manifest('r');
    await s.putManifest(child, [], MUTABLE);
    const idx = manifest('r', [{ digest: child.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(await s.putManifest(idx, ['multi'], MUTABLE), { missing: [], tagsSet: ['multi'], tagsKept: [] });
    t.equal((await s.getManifest('r', idx.digest))!.mediaType, OCI_INDEX);
    const elsewhere = manifest('other', [{ digest: child.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.equal((await s.putManifest(elsewhere, [], MUTABLE)).missing.length, 1);
  });

  withStore('immutable tags: another digest is a conflict and nothing is written; a conflict on any tag refuses them all', async (t, s) => {
    const a = manifest('r');
    const b = manifest('r');
    t.same(await s.putManifest(a, ['v1'], IMMUTABLE), { missing: [], tagsSet: ['v1'], tagsKept: [] }, 'a new tag is fine');
    t.same(await s.putManifest(a, ['v1'], IMMUTABLE), { missing: [], tagsSet: ['v1'], tagsKept: [] }, 'the same digest again is fine');
    const res = await s.putManifest(b, ['v1'], IMMUTABLE);
    t.same(res.conflict, { tag: 'v1', current: a.digest });
    t.equal(await s.resolveTag('r', 'v1'), a.digest, 'tag unchanged');
    t.equal(await s.getManifest('r', b.digest), null, 'the conflicting manifest is not stored either');
    const both = await s.putManifest(b, ['v2', 'v1'], IMMUTABLE);
    t.same(both.conflict, { tag: 'v1', current: a.digest }, 'one conflicting tag among several');
    t.equal(await s.resolveTag('r', 'v2'), null, 'the other tag was not written either');
    t.same(await s.putManifest(b, ['v1'], MUTABLE), { missing: [], tagsSet: ['v1'], tagsKept: [] }, 'with overwrite allowed the tag moves');
    t.equal(await s.resolveTag('r', 'v1'), b.digest);
    const fallback = `sha256-${'a'.repeat(64)}.sig`;
    await s.putManifest(a, [fallback], IMMUTABLE);
    t.same((await s.putManifest(b, [fallback], IMMUTABLE)).tagsSet, [fallback], 'referrer fallback tags stay writable');
  });

  withStore('immutable tags still follow a multi-platform push: up to the index, children kept under it', async (t, s) => {
    const amd = manifest('r');
    const evil = manifest('r');
    const att = manifest('r', [], { attestation: true });
    await s.putManifest(evil, [], IMMUTABLE);
    t.same((await s.putManifest(amd, ['v1'], IMMUTABLE)).tagsSet, ['v1'], 'a child pushed to the tag first');
    t.same(await s.putManifest(att, ['v1'], IMMUTABLE), { missing: [], tagsSet: [], tagsKept: ['v1'] }, 'its attestation is stored without taking the tag');
    t.equal(await s.resolveTag('r', 'v1'), amd.digest);
    const wrapped = manifest('r', [{ digest: amd.digest, kind: 'manifest' }, { digest: evil.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same(
      (await s.putManifest(wrapped, ['v1'], IMMUTABLE)).conflict,
      { tag: 'v1', current: amd.digest },
      'an index that wraps the current image next to another runnable manifest is a conflict',
    );
    const idx = manifest('r', [{ digest: amd.digest, kind: 'manifest' }, { digest: att.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.same((await s.putManifest(idx, ['v1'], IMMUTABLE)).tagsSet, ['v1'], 'the index of the current target and its attestation takes the tag');
    t.equal(await s.resolveTag('r', 'v1'), idx.digest);
    t.same(await s.putManifest(amd, ['v1'], IMMUTABLE), { missing: [], tagsSet: [], tagsKept: ['v1'] }, 'a child re-sent to the tag is stored, the tag stays');
    t.equal(await s.resolveTag('r', 'v1'), idx.digest, 'tag still on the index');
    t.same((await s.putManifest(evil, ['v1'], IMMUTABLE)).conflict, { tag: 'v1', current: idx.digest }, 'a manifest outside the index is still a conflict');
    const idx2 = manifest('r', [{ digest: idx.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    t.equal((await s.putManifest(idx2, ['v1'], IMMUTABLE)).conflict, undefined, 'an index listing only the current index may take it');
    t.equal(await s.resolveTag('r', 'v1'), idx2.digest);
    const att2 = manifest('r', [], { attestation: true });
    t.same((await s.putManifest(att2, ['v2'], IMMUTABLE)).tagsKept, ['v2'], 'an attestation never takes an immutable tag');
    t.equal(await s.resolveTag('r', 'v2'), null, 'not even a fresh one');
    t.ok(await s.getManifest('r', att2.digest), 'but it is stored');
    t.same((await s.putManifest(att2, ['v3'], MUTABLE)).tagsSet, ['v3'], 'with overwrite allowed it is an ordinary tag write');
  });

  withStore('racing first pushes of one immutable tag: exactly one winner, the tag never changes after', async (t, s) => {
    for (let round = 0; round < 5; round++) {
      const tag = `race-${round}`;
      const contenders = Array.from({ length: 6 }, () => manifest('r'));
      const results = await Promise.all(contenders.map((m) => s.putManifest(m, [tag], IMMUTABLE)));
      const winners = results.filter((r) => r.tagsSet.includes(tag));
      t.equal(winners.length, 1, `round ${round}: one winner`);
      const current = await s.resolveTag('r', tag);
      const winner = contenders[results.indexOf(winners[0]!)]!;
      t.equal(current, winner.digest, 'the tag names the winner');
      for (const [i, r] of results.entries()) {
        if (r === winners[0]) continue;
        t.same(r.conflict, { tag, current: winner.digest }, 'every loser was told who won');
        t.equal(await s.getManifest('r', contenders[i]!.digest), null, 'a loser stored nothing');
      }
    }
  });

  withStore('deleteManifest removes the manifest and every tag on it; immutable repositories refuse tagged or listed ones', async (t, s) => {
    const a = manifest('r');
    const b = manifest('r');
    await s.putManifest(a, ['a1', 'a2'], MUTABLE);
    await s.putManifest(b, ['b1'], MUTABLE);
    t.match(await s.deleteManifest('r', a.digest, IMMUTABLE), { ok: false, reason: 'immutable', what: /tagged manifest/ });
    t.equal(await s.resolveTag('r', 'a1'), a.digest, 'refused: nothing removed');
    t.same(await s.deleteManifest('r', a.digest, MUTABLE), { ok: true });
    t.equal(await s.getManifest('r', a.digest), null);
    t.equal(await s.resolveTag('r', 'a1'), null);
    t.equal(await s.resolveTag('r', 'a2'), null);
    t.equal(await s.resolveTag('r', 'b1'), b.digest, 'other tags stay');
    t.same(await s.deleteManifest('r', a.digest, MUTABLE), { ok: false, reason: 'unknown' }, 'second delete');
    t.same(await s.deleteManifest('nope', a.digest, MUTABLE), { ok: false, reason: 'unknown' });

    const child = manifest('r');
    await s.putManifest(child, [], MUTABLE);
    const idx = manifest('r', [{ digest: child.digest, kind: 'manifest' }], { mediaType: OCI_INDEX });
    await s.putManifest(idx, [], MUTABLE);
    t.match(await s.deleteManifest('r', child.digest, IMMUTABLE), { ok: false, reason: 'immutable', what: /index lists/ });
    t.same(await s.deleteManifest('r', idx.digest, IMMUTABLE), { ok: true }, 'an untagged index may go');
    t.same(await s.deleteManifest('r', child.digest, IMMUTABLE), { ok: true }, 'then its child may too');
  });

  withStore('deleteTag removes only the tag; immutable tags are refused, fallback tags are not', async (t, s) => {
    const a = manifest('r');
    const fallback = `sha256-${'b'.repeat(64)}`;
    await s.putManifest(a, ['x', 'y', fallback], MUTABLE);
    t.same(await s.deleteTag('r', 'x', MUTABLE), { ok: true });
    t.equal(await s.resolveTag('r', 'x'), null);
    t.equal(await s.resolveTag('r', 'y'), a.digest);
    t.ok(await s.getManifest('r', a.digest), 'manifest stays');
    t.same(await s.deleteTag('r', 'x', MUTABLE), { ok: false, reason: 'unknown' });
    t.match(await s.deleteTag('r', 'y', IMMUTABLE), { ok: false, reason: 'immutable', what: 'deleting a tag' });
    t.equal(await s.resolveTag('r', 'y'), a.digest);
    t.same(await s.deleteTag('r', fallback, IMMUTABLE), { ok: true });
  });

  withStore('listTags: byte order, n and last', async (t, s) => {
    const a = manifest('r');
    const tags = ['b', 'B', 'a', '_x', '1', 'a.b', 'a-b', 'Z9'];
    await s.putManifest(a, tags, MUTABLE);
    const sorted = [...tags].sort();
    t.same(await s.listTags('r', {}), sorted);
    t.same(await s.listTags('r', { n: 3 }), sorted.slice(0, 3));
    t.same(await s.listTags('r', { last: sorted[2]! }), sorted.slice(3));
    t.same(await s.listTags('r', { n: 2, last: sorted[2]! }), sorted.slice(3, 5));
    t.same(await s.listTags('r', { last: 'zzz' }), []);
    t.same(await s.listTags('unknown', {}), []);
  });

  withStore('repositoryExists and listRepositories follow content, in byte order', async (t, s) => {
    t.notOk(await s.repositoryExists('a'));
    t.same(await s.listRepositories({}), []);
    const d = digest('blob-a');
    await addBlob(s, d, 1, 'a');
    t.ok(await s.repositoryExists('a'), 'a blob link is content');
    const m = manifest('c/d');
    await s.putManifest(m, ['v'], MUTABLE);
    await addBlob(s, digest('blob-b'), 1, 'b');
    await addBlob(s, digest('blob-b2'), 1, 'b-x');
    await addBlob(s, digest('blob-b3'), 1, 'b.x');
    await addBlob(s, digest('blob-b4'), 1, 'b/x');
    t.same(await s.listRepositories({}), ['a', 'b', 'b-x', 'b.x', 'b/x', 'c/d'], 'byte order, as OCI expects');
    t.same(await s.listRepositories({ n: 2 }), ['a', 'b']);
    t.same(await s.listRepositories({ last: 'a' }), ['b', 'b-x', 'b.x', 'b/x', 'c/d']);
    t.same(await s.listRepositories({ n: 1, last: 'a' }), ['b']);

    t.same(await s.unlinkBlob('a', d, MUTABLE), { ok: true });
    t.notOk(await s.repositoryExists('a'), 'no content left');
    t.notOk((await s.listRepositories({})).includes('a'), 'emptied repository leaves the catalog');
    t.same(await s.deleteManifest('c/d', m.digest, MUTABLE), { ok: true });
    t.notOk(await s.repositoryExists('c/d'));
  });

  withStore('referrers: by subject, per repository, optional artifactType filter', async (t, s) => {
    const subject = manifest('r');
    await s.putManifest(subject, ['v1'], MUTABLE);
    const sig = manifest('r', [], { subject: subject.digest, artifactType: 'application/x-sig', annotations: { k: 'v' } });
    const sbom = manifest('r', [], { subject: subject.digest, artifactType: 'application/x-sbom' });
    const otherRepo = manifest('o', [], { subject: subject.digest, artifactType: 'application/x-sig' });
    for (const m of [sig, sbom, otherRepo]) await s.putManifest(m, [], MUTABLE);
    const all = await s.referrers('r', subject.digest);
    t.same(all.map((r) => r.digest).sort(), [sig.digest, sbom.digest].sort());
    t.same(
      all.find((r) => r.digest === sig.digest),
      { digest: sig.digest, mediaType: OCI_MANIFEST, size: sig.body.length, artifactType: 'application/x-sig', annotations: { k: 'v' } },
    );
    t.same((await s.referrers('r', subject.digest, 'application/x-sbom')).map((r) => r.digest), [sbom.digest]);
    t.same(await s.referrers('r', digest('nothing')), []);
    await s.deleteManifest('r', sig.digest, MUTABLE);
    t.same((await s.referrers('r', subject.digest)).map((r) => r.digest), [sbom.digest]);
  });

  withStore('referrers: index-attached (BuildKit attestation entries) listed while a declaring index is stored', async (t, s) => {
    const platform = manifest('r');
    const att = manifest('r', [], { attestation: true, artifactType: 'application/vnd.oci.image.config.v1+json' });
    const sig = manifest('r', [], { subject: platform.digest, artifactType: 'application/x-sig' });
    for (const m of [platform, att, sig]) await s.putManifest(m, [], MUTABLE);
    const annotations = { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': platform.digest };
    const describes = { subject: platform.digest, artifactType: 'application/vnd.in-toto+json', annotations };
    const index1 = manifest('r', [{ digest: platform.digest, kind: 'manifest' }, { digest: att.digest, kind: 'manifest', describes }], { mediaType: OCI_INDEX });
    const index2 = manifest(
      'r',
      [
        { digest: platform.digest, kind: 'manifest' },
        { digest: att.digest, kind: 'manifest', describes },
        { digest: sig.digest, kind: 'manifest', describes: { ...describes, artifactType: 'application/x-other' } },
      ],
      { mediaType: OCI_INDEX },
    );
    t.same((await s.referrers('r', platform.digest)).map((r) => r.digest), [sig.digest], 'before any index: only the subject referrer');
    await s.putManifest(index1, ['v1'], MUTABLE);
    await s.putManifest(index2, ['v2'], MUTABLE);
    const all = await s.referrers('r', platform.digest);
    t.same(all.map((r) => r.digest), [att.digest, sig.digest].sort(), 'each digest once, in digest order');
    t.same(
      all.find((r) => r.digest === att.digest),
      { digest: att.digest, mediaType: OCI_MANIFEST, size: att.body.length, artifactType: 'application/vnd.in-toto+json', annotations },
      "the attachment's artifactType and annotations",
    );
    t.equal(all.find((r) => r.digest === sig.digest)!.artifactType, 'application/x-sig', "a manifest's own subject wins over an attachment");
    t.same((await s.referrers('r', platform.digest, 'application/vnd.in-toto+json')).map((r) => r.digest), [att.digest], 'artifactType filter');
    t.same(await s.referrers('r', platform.digest, 'application/x-none'), []);
    t.same(await s.referrers('o', platform.digest), [], 'per repository');
    t.same(await s.referrers('r', att.digest), [], 'the relation has a direction');
    t.same(await s.deleteManifest('r', index1.digest, MUTABLE), { ok: true });
    t.same((await s.referrers('r', platform.digest)).map((r) => r.digest), [att.digest, sig.digest].sort(), 'still declared by the other index');
    t.same(await s.deleteManifest('r', index2.digest, MUTABLE), { ok: true });
    t.same((await s.referrers('r', platform.digest)).map((r) => r.digest), [sig.digest], 'gone with the last index that declared it');
  });

  // --- upload sessions -------------------------------------------------------------------------------

  withStore('upload sessions: create, get, save under a lease, stale, delete', async (t, s, clock) => {
    const t0 = clock.now;
    const st0 = { size: 0, hash: 'h0', driver: { parts: [] } };
    t.same(await s.createUpload('u1', 'r', st0), { id: 'u1', repository: 'r', offset: 0, state: st0, startedAt: t0, updatedAt: t0 });
    t.same(await s.getUpload('u1'), { id: 'u1', repository: 'r', offset: 0, state: st0, startedAt: t0, updatedAt: t0 });
    t.equal(await s.getUpload('nope'), null);
    clock.now += 5000;
    await s.createUpload('u2', 'r', { size: 0, hash: '' });
    clock.now += 5000;
    const claimed = await s.claimUpload('u1', 'replica-a', 60_000);
    t.match(claimed, { id: 'u1', offset: 0 });
    const st1 = { size: 1234, hash: 'h1', driver: { parts: [{ n: 1, etag: 'x' }] } };
    t.equal(await s.saveUpload('u1', 'replica-a', st1), true);
    t.same(await s.getUpload('u1'), { id: 'u1', repository: 'r', offset: 1234, state: st1, startedAt: t0, updatedAt: t0 + 10_000 });
    t.same((await s.staleUploads(t0 + 6000)).map((u) => u.id), ['u2'], 'only sessions not updated since the cutoff');
    t.same((await s.staleUploads(t0 + 20_000)).map((u) => u.id).sort(), ['u1', 'u2']);
    await s.deleteUpload('u1');
    t.equal(await s.getUpload('u1'), null);
    await s.deleteUpload('u1'); // missing is fine
    t.same((await s.staleUploads(t0 + 20_000)).map((u) => u.id), ['u2']);
    t.equal(await s.claimUpload('u1', 'replica-a', 1000), null, 'claiming a deleted session: null');
    t.notOk(await s.repositoryExists('r'), 'an upload session is not repository content');
  });

  withStore('upload leases: one holder at a time across replicas; expiry, renewal, release; a lost lease saves nothing', async (t, s, clock) => {
    await s.createUpload('u', 'r', { size: 0, hash: '' });
    t.match(await s.claimUpload('u', 'a', 10_000), { id: 'u' }, 'a takes the lease');
    t.equal(await s.claimUpload('u', 'b', 10_000), 'busy', 'b cannot while a holds it');
    t.same((await s.staleUploads(clock.now + 1)).map((u) => u.id), [], 'a leased session is never stale');
    clock.now += 8000;
    t.equal(await s.renewUpload('u', 'a', 10_000), true, 'a renews');
    clock.now += 8000;
    t.equal(await s.claimUpload('u', 'b', 10_000), 'busy', 'still held after the renewal');
    clock.now += 3000;
    t.match(await s.claimUpload('u', 'b', 10_000), { id: 'u' }, 'b takes over once a lease expired');
    t.equal(await s.renewUpload('u', 'a', 10_000), false, 'a learns it lost the lease');
    t.equal(await s.saveUpload('u', 'a', { size: 99, hash: 'stale' }), false, 'a cannot save any more');
    t.equal((await s.getUpload('u'))!.offset, 0, 'nothing saved');
    await s.releaseUpload('u', 'a');
    t.equal(await s.claimUpload('u', 'c', 10_000), 'busy', "a's release does not free b's lease");
    await s.releaseUpload('u', 'b');
    t.match(await s.claimUpload('u', 'c', 10_000), { id: 'u' }, 'released: c may take it');
    t.equal(await s.saveUpload('u', 'c', { size: 5, hash: 'h' }), true);
    t.match(await s.claimUpload('u', 'd', 10_000), { offset: 5 }, 'saving released the lease');
    const racers = await Promise.all(['e', 'f', 'g', 'h'].map((o) => s.claimUpload('u', o, 10_000)));
    t.equal(racers.filter((r) => r === 'busy').length, 4, 'd still holds it: everyone else is busy');
    await s.releaseUpload('u', 'd');
    const second = await Promise.all(['e', 'f', 'g', 'h'].map((o) => s.claimUpload('u', o, 10_000)));
    t.equal(second.filter((r) => r !== 'busy' && r !== null).length, 1, 'racing claims: exactly one winner');
  });
}
