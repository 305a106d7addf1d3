/**
 * The GcStore contract (src/metadata/gc-store.ts), run against every backend next to the MetadataStore
 * contract: each subtest gets both stores on one fresh database. What matters most is the lock shared by
 * collectBlob and MetadataStore.commitBlob — the heart of the GC safety argument (gc/README.md).
 */
import type { Test } from 'tap';
import type { MetadataStore } from '../src/metadata/store.js';
import type { GcStore } from '../src/metadata/gc-store.js';
import { addBlob, digest, manifest } from './metadata-contract.js';

export interface GcStoreHandle {
  readonly store: MetadataStore;
  readonly gc: GcStore;
  cleanup(): Promise<void> | void;
}

export type GcStoreFactory = (now: () => number) => Promise<GcStoreHandle> | GcStoreHandle;

const MUTABLE = { immutableTags: false };
const always = () => true;
const never = () => false;

export function gcStoreContract(t: Test, factory: GcStoreFactory): void {
  const withStores = (name: string, fn: (t: Test, s: MetadataStore, gc: GcStore, clock: { now: number }) => Promise<void>) =>
    t.test(name, async (t) => {
      const clock = { now: 1_700_000_000_000 };
      const h = await factory(() => clock.now);
      t.teardown(() => h.cleanup());
      await fn(t, h.store, h.gc, clock);
    });

  withStores('snapshot reads: imageNames, manifestsOf, refsOf, linksOf', async (t, s, gc, clock) => {
    const layer = digest('layer');
    await addBlob(s, layer, 10, 'a/app');
    clock.now += 1000;
    const img = manifest('a/app', [{ digest: layer, kind: 'blob' }]);
    await s.putManifest(img, ['v1'], MUTABLE);
    const idx = manifest('a/app', [{ digest: img.digest, kind: 'manifest' }], { mediaType: 'application/vnd.oci.image.index.v1+json' });
    await s.putManifest(idx, [], MUTABLE);
    await addBlob(s, digest('other'), 3, 'b');
    t.same(await gc.imageNames(), ['a/app', 'b']);
    const ms = await gc.manifestsOf('a/app');
    t.same(
      ms.map((m) => [m.digest, m.tagged]).sort(),
      [
        [img.digest, true],
        [idx.digest, false],
      ].sort(),
    );
    t.same(
      (await gc.refsOf('a/app')).map((r) => [r.parent, r.child, r.kind]).sort(),
      [
        [img.digest, layer, 'blob'],
        [idx.digest, img.digest, 'manifest'],
      ].sort(),
    );
    const links = await gc.linksOf('a/app');
    t.same(links.map((l) => [l.digest, l.size]), [[layer, 10]]);
    t.equal(links[0]!.lastReferencedAt, clock.now, 'a manifest PUT refreshes the link: the grace period restarts');
  });

  withStores('collectManifest: the predicate sees the state read in the deleting transaction', async (t, s, gc) => {
    const child = manifest('r');
    await s.putManifest(child, [], MUTABLE);
    const idx = manifest('r', [{ digest: child.digest, kind: 'manifest' }], { mediaType: 'application/vnd.oci.image.index.v1+json' });
    await s.putManifest(idx, ['v1'], MUTABLE);
    const sig = manifest('r', [], { subject: child.digest });
    await s.putManifest(sig, [], MUTABLE);
    const seen: Record<string, unknown> = {};
    t.equal(await gc.collectManifest('r', child.digest, (st) => ((seen.child = st), false)), 'kept', 'the predicate said no: kept');
    t.match(seen.child, { tagged: false, isChild: true, subject: null });
    t.equal(await gc.collectManifest('r', idx.digest, (st) => ((seen.idx = st), false)), 'kept');
    t.match(seen.idx, { tagged: true, isChild: false });
    t.equal(await gc.collectManifest('r', sig.digest, (st) => ((seen.sig = st), false)), 'kept');
    t.match(seen.sig, { subject: child.digest, subjectPresent: true });
    t.equal(await gc.collectManifest('r', idx.digest, always), 'deleted');
    t.equal(await s.getManifest('r', idx.digest), null);
    t.equal(await s.resolveTag('r', 'v1'), null, 'its tags went with it');
    t.equal(await gc.collectManifest('r', idx.digest, always), 'gone');
    t.equal(await gc.collectManifest('r', child.digest, (st) => !st.isChild), 'deleted', 'no longer a child once the index is gone');
    t.equal(await gc.collectManifest('r', sig.digest, (st) => ((seen.sig2 = st), !st.subjectPresent)), 'deleted');
    t.match(seen.sig2, { subjectPresent: false });
    t.notOk(await s.repositoryExists('r'), 'an emptied repository leaves the catalog');
  });

  withStores('collectLink: deletes only when the predicate holds on fresh state', async (t, s, gc) => {
    const layer = digest('l');
    await addBlob(s, layer, 1, 'r');
    let state: unknown;
    t.equal(await gc.collectLink('r', layer, (st) => ((state = st), false)), 'kept');
    t.match(state, { referenced: false });
    const m = manifest('r', [{ digest: layer, kind: 'blob' }]);
    await s.putManifest(m, [], MUTABLE);
    t.equal(await gc.collectLink('r', layer, (st) => !st.referenced), 'kept', 'a manifest referencing it arrived: kept');
    await s.deleteManifest('r', m.digest, MUTABLE);
    t.equal(await gc.collectLink('r', layer, (st) => !st.referenced), 'deleted');
    t.equal(await s.getLinkedBlob('r', layer), null);
    t.equal(await gc.collectLink('r', layer, always), 'gone');
  });

  withStores('touchBlob: a client seeing a stale link restarts its grace; a fresh link is not rewritten', async (t, s, gc, clock) => {
    const layer = digest('seen');
    await addBlob(s, layer, 1, 'r');
    const linkedAt = clock.now;
    clock.now += 500;
    await s.touchBlob('r', layer);
    t.match(await gc.linksOf('r'), [{ digest: layer, linkedAt, lastReferencedAt: null }], 'linked half a second ago: left alone');
    clock.now += 60_000;
    await s.touchBlob('r', layer);
    t.match(await gc.linksOf('r'), [{ digest: layer, linkedAt, lastReferencedAt: clock.now }], 'stale: refreshed to now');
    await s.touchBlob('other', layer);
    await s.touchBlob('r', digest('never-pushed'));
    t.notOk(await s.repositoryExists('other'), 'touching creates nothing');
  });

  withStores('unusedBlobs pages in digest order; collectBlob re-checks, deletes the record, then the bytes', async (t, s, gc) => {
    const ds = Array.from({ length: 7 }, (_, i) => digest(`u${i}`)).sort();
    for (const d of ds) await addBlob(s, d, 2, 'r');
    t.same(await gc.unusedBlobs(null, 10), [], 'linked blobs are in use');
    for (const d of ds) await s.unlinkBlob('r', d, MUTABLE);
    const page1 = await gc.unusedBlobs(null, 3);
    const page2 = await gc.unusedBlobs(page1[2]!.digest, 3);
    const page3 = await gc.unusedBlobs(page2[2]!.digest, 3);
    t.same([...page1, ...page2, ...page3].map((b) => b.digest), ds);

    let deletedBytes = 0;
    let recordGoneBeforeBytes = false;
    const size = await gc.collectBlob(ds[0]!, (st) => st.links === 0 && st.references === 0, async () => {
      recordGoneBeforeBytes = (await s.getBlob(ds[0]!)) === null;
      deletedBytes++;
    });
    t.equal(size, 2);
    t.equal(deletedBytes, 1);
    t.ok(recordGoneBeforeBytes, 'the record is deleted (committed) before the bytes go');
    t.equal(await gc.collectBlob(ds[0]!, always, async () => void deletedBytes++), null, 'gone');
    await s.linkBlob(ds[1]!, 'r2');
    let seen: unknown;
    t.equal(await gc.collectBlob(ds[1]!, (st) => ((seen = st), st.links === 0), async () => void deletedBytes++), null, 'relinked since the list: kept');
    t.match(seen, { links: 1, references: 0, size: 2 });
    t.equal(await gc.collectBlob(ds[2]!, never, async () => void deletedBytes++), null);
    t.equal(deletedBytes, 1, 'bytes are deleted only for a collected blob');
  });

  withStores('collectBlob and commitBlob of one digest never interleave', async (t, s, gc) => {
    const d = digest('contended');
    await addBlob(s, d, 5, 'r');
    await s.unlinkBlob('r', d, MUTABLE);
    let releaseDelete!: () => void;
    const deleting = new Promise<void>((r) => (releaseDelete = r));
    const events: string[] = [];
    const collecting = gc.collectBlob(d, always, async () => {
      events.push('delete-start');
      await deleting;
      events.push('delete-end');
    });
    await new Promise((r) => setTimeout(r, 30));
    const committing = s.commitBlob(d, 'r', async () => {
      events.push('publish');
      return { size: 5 };
    });
    await new Promise((r) => setTimeout(r, 30));
    t.same(events, ['delete-start'], 'the commit waits while GC holds the digest');
    releaseDelete();
    await Promise.all([collecting, committing]);
    t.same(events, ['delete-start', 'delete-end', 'publish']);
    t.ok(await s.getLinkedBlob('r', d), 'the blob committed after GC is recorded (and its bytes were published after the delete)');
  });

  withStores('collectOrphan: only bytes without a record', async (t, s, gc) => {
    const d = digest('orph');
    let deleted = 0;
    await addBlob(s, d, 1, 'r');
    t.equal(await gc.collectOrphan(d, async () => void deleted++), false, 'a recorded blob is not an orphan');
    t.equal(deleted, 0);
    t.equal(await gc.collectOrphan(digest('nobody'), async () => void deleted++), true);
    t.equal(deleted, 1);
  });

  withStores('GC runs, usage, dry-run views and exclusive runs', async (t, s, gc, clock) => {
    t.equal(await gc.lastGcRun(['*']), null);
    await gc.recordGcRun({ scope: '*', finishedAt: clock.now, dryRun: false, report: { x: 1 } });
    await gc.recordGcRun({ scope: 'p', finishedAt: clock.now + 5, dryRun: true, report: {} });
    t.equal(await gc.lastGcRun(['*']), clock.now);
    t.equal(await gc.lastGcRun(['p']), null, 'dry runs do not count');
    t.equal(await gc.lastGcRun(['p', '*']), clock.now);

    const layer = digest('shared');
    await addBlob(s, layer, 100, 'p/a');
    await s.linkBlob(layer, 'p/b');
    const m = manifest('p/a', [{ digest: layer, kind: 'blob' }]);
    await s.putManifest(m, ['t1', 't2'], MUTABLE);
    const u = await gc.usage(['p/a', 'p/b', 'none']);
    t.match(u, { images: 2, tags: 2, manifests: 1, blobs: 1, bytes: 100 + m.body.length, lastPush: clock.now });

    await gc.dryRun(async (view) => {
      t.equal(await view.collectManifest('p/a', m.digest, always), 'deleted', 'the view deletes');
      t.same(await view.manifestsOf('p/a'), [], 'and sees its own deletion');
    });
    t.ok(await s.getManifest('p/a', m.digest), 'the real store never saw it');

    const order: string[] = [];
    await Promise.all([
      gc.exclusive(async () => {
        order.push('a-start');
        await new Promise((r) => setTimeout(r, 30));
        order.push('a-end');
      }),
      gc.exclusive(async () => {
        order.push('b-start');
        order.push('b-end');
      }),
    ]);
    t.same(order, ['a-start', 'a-end', 'b-start', 'b-end'], 'one run at a time');
  });
}
