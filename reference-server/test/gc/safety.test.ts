/**
 * The safety rule (gc/README.md), tested at the points where a push and a sweep meet: whatever happens
 * between the mark and a deletion, the deletion's own transaction sees it.
 */
import t from 'tap';
import { makeFixture } from './fixture.js';
import type { GcStore } from '../../src/metadata/gc-store.js';

/**
 * Wraps a GcStore so that `hook` runs once, just before the first call of `method` (a push "slipping in"
 * between the mark and a deletion): the deletion's own re-check must see it.
 */
function interfere(method: keyof GcStore, hook: () => Promise<void>) {
  let fired = false;
  return (m: GcStore): GcStore =>
    new Proxy(m, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv) as unknown;
        if (typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          if (prop === method && !fired) {
            fired = true;
            await hook();
          }
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
}

t.test('grace 0: a manifest PUT that loses the race fails with MANIFEST_BLOB_UNKNOWN; one that wins keeps its blobs', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const layer = await f.pushBlob('race/app', 'layer bytes');
  const config = await f.pushBlob('race/app', 'config bytes');
  const doc = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 12 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 11 }],
  };
  // GC first: the unreferenced links (grace 0) go, the PUT is refused — never acknowledged then lost.
  const r = await f.gc.run({ graceSeconds: 0 });
  t.equal(r.blobs_deleted, 2);
  const lost = await f.putManifest('race/app', doc, 'v1');
  t.same(lost.missing.sort(), [config, layer].sort(), 'PUT reports both blobs unknown (MANIFEST_BLOB_UNKNOWN)');
  t.equal(await f.meta.resolveTag('race/app', 'v1'), null);

  // Push again; PUT first: now GC with grace 0 keeps everything.
  await f.pushBlob('race/app', 'layer bytes');
  await f.pushBlob('race/app', 'config bytes');
  t.same((await f.putManifest('race/app', doc, 'v1')).missing, []);
  const r2 = await f.gc.run({ graceSeconds: 0 });
  t.equal(r2.links_deleted + r2.blobs_deleted, 0);
  t.ok(await f.blobStored(layer) && await f.blobStored(config));
});

t.test('a tag pushed after the mark keeps the manifest (manifest re-check)', async (t) => {
  let f!: Awaited<ReturnType<typeof makeFixture>>;
  let digest = '';
  f = await makeFixture(t.testdir(), {
    wrapGcStore: interfere('collectManifest', async () => {
      // The mark saw an untagged manifest; a client tags it before the deletion runs.
      const body = (await f.meta.getManifest('stale/app', digest))!;
      await f.putManifest('stale/app', JSON.parse(body.body.toString()), 'late-tag');
    }),
  });
  t.teardown(f.close);
  const img = await f.image('stale/app', null, ['l1']);
  digest = img.digest;
  f.advance(5);
  const r = await f.gc.run({ graceSeconds: 0, deleteUntagged: true });
  t.equal(r.manifests_deleted, 0);
  t.equal(await f.meta.resolveTag('stale/app', 'late-tag'), img.digest);
  for (const d of img.blobs) t.ok(await f.blobStored(d));
});

t.test('a manifest referencing a blob after the mark keeps its link (link re-check)', async (t) => {
  let f!: Awaited<ReturnType<typeof makeFixture>>;
  let layer = '';
  let config = '';
  let putResult: string[] | null = null;
  f = await makeFixture(t.testdir(), {
    wrapGcStore: interfere('collectLink', async () => {
      putResult = (await f.putManifest(
        'late/app',
        {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1 },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: 1 }],
        },
        'v1',
      )).missing;
    }),
  });
  t.teardown(f.close);
  layer = await f.pushBlob('late/app', 'late layer');
  config = await f.pushBlob('late/app', 'late config');
  f.advance(5);
  const r = await f.gc.run({ graceSeconds: 0 });
  t.same(putResult, [], 'the PUT that slipped in between mark and sweep succeeded');
  t.equal(r.links_deleted, 0, 'so neither link was swept');
  t.equal(r.blobs_deleted, 0);
  t.ok(await f.blobStored(layer) && await f.blobStored(config));
});

t.test('an upload committed after the mark keeps its blob (blob re-check)', async (t) => {
  let f!: Awaited<ReturnType<typeof makeFixture>>;
  let digest = '';
  f = await makeFixture(t.testdir(), {
    wrapGcStore: interfere('collectBlob', async () => {
      // An upload of the same content committed (its file is already there) before the deletion runs.
      await f.addBlobAndLink(digest, 5, 'other/app');
    }),
  });
  t.teardown(f.close);
  digest = await f.pushBlob('up/app', 'bytes');
  t.ok(await f.unlinkBlob('up/app', digest)); // the blob is now unlinked everywhere: a GC candidate
  f.advance(5);
  const r = await f.gc.run({ graceSeconds: 0 });
  t.equal(r.blobs_deleted, 0);
  t.ok(await f.blobStored(digest));
  t.ok(await f.meta.getLinkedBlob('other/app', digest));
});

t.test('a mount of a swept blob is refused (the client uploads instead)', async (t) => {
  const f = await makeFixture(t.testdir());
  t.teardown(f.close);
  const d = await f.pushBlob('src/app', 'mount me');
  f.advance(1);
  await f.gc.run({ graceSeconds: 0 });
  t.equal(await f.meta.linkBlob(d, 'dst/app'), false);
  t.equal(await f.meta.getLinkedBlob('dst/app', d), null);
});
