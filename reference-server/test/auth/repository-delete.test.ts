/**
 * Issue 12, item 2: deleting a repository never widens access to what it held. Without ?force=true a
 * repository that owns images is kept (409); with it, its images go with it (records at once, blobs at
 * the next GC run) instead of falling under the public `default` repository.
 */
import t from 'tap';
import { authFixture, basic, ADMIN_PASSWORD } from './harness.js';
import { pushAs, uniqueImage } from './client.js';
import { allBlobs, ociImage } from '../helpers/oci.js';
import { randomUUID } from 'node:crypto';

const ADMIN = basic('admin', ADMIN_PASSWORD);

t.test('force-deleting a private repository does not publish its images; they are deleted and collected', async (t) => {
  const fx = await authFixture(t);
  t.equal((await fx.request.post('/api/repository').set('Authorization', ADMIN).send({ id: 'hidden', name: 'hidden', visibility: 'private' })).status, 201);
  // A layer of its own (uniqueImage() shares its layer with every other test image).
  const img = ociImage({ files: [{ path: 'secret.txt', content: randomUUID() }] });
  t.equal((await pushAs(fx.request, 'hidden/app', img, 'v1', ADMIN)).status, 201);
  t.equal((await pushAs(fx.request, 'hidden/app/sub', uniqueImage(), 'v1', ADMIN)).status, 201);
  // Control: a public image in default is untouched by the delete.
  const keep = uniqueImage();
  t.equal((await pushAs(fx.request, 'public-app', keep, 'v1', ADMIN)).status, 201);
  t.equal((await fx.request.get('/v2/hidden/app/manifests/v1')).status, 401, 'private before: anonymous pull refused');

  t.equal((await fx.request.delete('/api/repository/hidden').set('Authorization', ADMIN)).status, 409, 'without force: refused');
  t.equal((await fx.request.delete('/api/repository/hidden?force=true').set('Authorization', ADMIN)).status, 204, 'force-delete');
  t.equal((await fx.request.get('/api/repository/hidden').set('Authorization', ADMIN)).status, 404, 'the repository is gone');

  for (const ref of ['v1', img.digest]) {
    const anon = await fx.request.get(`/v2/hidden/app/manifests/${ref}`);
    t.ok(anon.status === 401 || anon.status === 404, `anonymous pull of hidden/app:${ref} after the delete → ${anon.status} (not 200)`);
  }
  const layer = (img.doc.layers as { digest: string }[])[0]!;
  t.equal((await fx.request.get(`/v2/hidden/app/blobs/${layer.digest}`)).status, 404, 'anonymous blob pull: 404');
  t.equal((await fx.request.get('/v2/hidden/app/manifests/v1').set('Authorization', ADMIN)).status, 404, 'even the admin finds no manifest: deleted, not re-homed');
  t.equal((await fx.request.get('/v2/hidden/app/sub/tags/list').set('Authorization', ADMIN)).status, 404, 'nested names too');
  const catalog = await fx.request.get('/v2/_catalog').set('Authorization', ADMIN);
  t.same(catalog.body.repositories, ['public-app'], 'only the unrelated public image is left');
  t.equal((await fx.request.get('/v2/public-app/manifests/v1')).status, 200, 'which anonymous clients still pull');

  // The blobs are unreferenced now and go with GC.
  t.ok(await fx.meta.getBlob(layer.digest), 'blob record still there before GC');
  const gc = await fx.request.post('/api/repository/default/gc').set('Authorization', ADMIN).send({ grace_seconds: 0 });
  t.equal(gc.status, 200);
  t.equal(await fx.meta.getBlob(layer.digest), null, 'collected by GC');
  t.ok(await fx.meta.getBlob(allBlobs(keep)[0]!.digest), "the public image's blobs are kept");
  t.ok(fx.logLines.some((l) => l.event === 'admin_change' && l.action === 'repository_delete' && (l.manifests_deleted as number) >= 2), 'audited with what was deleted');
});

t.test('the default repository cannot be deleted, and a refused delete deletes nothing', async (t) => {
  const fx = await authFixture(t);
  t.equal((await pushAs(fx.request, 'app', uniqueImage(), 'v1', ADMIN)).status, 201);
  t.equal((await fx.request.delete('/api/repository/default?force=true').set('Authorization', ADMIN)).status, 409);
  t.equal((await fx.request.get('/v2/app/manifests/v1')).status, 200, 'its images are still there');
});
