/** /v2/<name>/blobs/<digest>: GET (streamed, Range), HEAD, DELETE, visibility per repository, sha512. */
import t from 'tap';
import { registryFixture, errorCodes, pushBlob, getRaw } from './helpers/registry.js';
import { randomBlob } from './helpers/oci.js';

const UNKNOWN = `sha256:${'ab'.repeat(32)}`;

t.test('GET and HEAD serve a pushed blob with length, digest and no body on HEAD', async (t) => {
  const { request } = await registryFixture(t);
  const blob = randomBlob(100_000);
  const put = await pushBlob(request, 'ns/app', blob);
  t.equal(put.status, 201);
  t.equal(put.headers.location, `/v2/ns/app/blobs/${blob.digest}`);
  t.equal(put.headers['docker-content-digest'], blob.digest);

  const get = await getRaw(request, `/v2/ns/app/blobs/${blob.digest}`);
  t.equal(get.status, 200);
  t.equal(get.headers['content-length'], String(blob.size));
  t.equal(get.headers['docker-content-digest'], blob.digest);
  t.ok((get.body as Buffer).equals(blob.bytes), 'bytes round-trip');

  const head = await request.head(`/v2/ns/app/blobs/${blob.digest}`);
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(blob.size));
  t.equal(head.headers['docker-content-digest'], blob.digest);
  t.notOk(head.text, 'HEAD has no body');
});

t.test('Range requests: 206 with Content-Range, 416 with bytes */size', async (t) => {
  const { request } = await registryFixture(t);
  const blob = randomBlob(1000);
  await pushBlob(request, 'r', blob);
  const path = `/v2/r/blobs/${blob.digest}`;

  const cases: [string, number, number][] = [
    ['bytes=0-9', 0, 9],
    ['bytes=990-', 990, 999],
    ['bytes=-10', 990, 999],
    ['bytes=500-5000', 500, 999], // end past the size is clamped
    ['bytes=0-0', 0, 0],
  ];
  for (const [range, start, end] of cases) {
    const res = await getRaw(request, path).set('Range', range);
    t.equal(res.status, 206, range);
    t.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`, `${range} Content-Range`);
    t.equal(res.headers['content-length'], String(end - start + 1), `${range} Content-Length`);
    t.ok((res.body as Buffer).equals(blob.bytes.subarray(start, end + 1)), `${range} bytes`);
  }
  for (const range of ['bytes=1000-', 'bytes=2000-3000', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'items=0-1']) {
    const res = await request.get(path).set('Range', range);
    t.equal(res.status, 416, `${range} → 416`);
    t.equal(res.headers['content-range'], 'bytes */1000', `${range} Content-Range`);
  }
});

t.test('unknown blobs are 404 BLOB_UNKNOWN; malformed digests are 400 DIGEST_INVALID', async (t) => {
  const { request } = await registryFixture(t);
  await pushBlob(request, 'r', randomBlob(10)); // the repository exists
  for (const repo of ['r', 'never/pushed']) {
    const get = await request.get(`/v2/${repo}/blobs/${UNKNOWN}`);
    t.equal(get.status, 404, `GET in ${repo}`);
    t.same(errorCodes(get.body), ['BLOB_UNKNOWN']);
    const head = await request.head(`/v2/${repo}/blobs/${UNKNOWN}`);
    t.equal(head.status, 404, `HEAD in ${repo}`);
    const del = await request.delete(`/v2/${repo}/blobs/${UNKNOWN}`);
    t.equal(del.status, 404, `DELETE in ${repo}`);
    t.same(errorCodes(del.body), ['BLOB_UNKNOWN']);
  }
  const bad = [
    'sha256:abc',
    `sha256:${'AB'.repeat(32)}`,
    `sha256:${'a'.repeat(63)}`,
    `sha512:${'a'.repeat(64)}`,
    `md5:${'a'.repeat(32)}`,
    'notadigest',
    `sha256:${'g'.repeat(64)}`,
  ];
  for (const d of bad) {
    for (const method of ['get', 'delete'] as const) {
      const res = await request[method](`/v2/r/blobs/${encodeURIComponent(d)}`);
      t.equal(res.status, 400, `${method} ${d}`);
      t.same(errorCodes(res.body), ['DIGEST_INVALID'], `${method} ${d} code`);
    }
    const head = await request.head(`/v2/r/blobs/${encodeURIComponent(d)}`);
    t.equal(head.status, 400, `HEAD ${d}`);
  }
});

t.test('a blob is visible only in repositories that pushed or mounted it', async (t) => {
  const { request } = await registryFixture(t);
  const blob = randomBlob(64);
  t.equal((await pushBlob(request, 'a/one', blob)).status, 201);
  t.equal((await pushBlob(request, 'b/other', randomBlob(8))).status, 201);
  t.equal((await request.head(`/v2/a/one/blobs/${blob.digest}`)).status, 200);
  const hidden = await request.get(`/v2/b/other/blobs/${blob.digest}`);
  t.equal(hidden.status, 404, 'not visible in a repository that did not push it');
  t.same(errorCodes(hidden.body), ['BLOB_UNKNOWN']);

  const mount = await request.post(`/v2/b/other/blobs/uploads/?mount=${blob.digest}&from=a/one`);
  t.equal(mount.status, 201, 'mounted');
  t.equal((await request.head(`/v2/b/other/blobs/${blob.digest}`)).status, 200, 'visible after mount');
});

t.test('DELETE unlinks the blob from one repository only', async (t) => {
  const { request } = await registryFixture(t);
  const blob = randomBlob(64);
  await pushBlob(request, 'a', blob);
  await pushBlob(request, 'b', blob);
  const del = await request.delete(`/v2/a/blobs/${blob.digest}`);
  t.equal(del.status, 202);
  t.equal(del.headers['docker-content-digest'], blob.digest);
  t.equal((await request.get(`/v2/a/blobs/${blob.digest}`)).status, 404, 'gone from a');
  t.equal((await request.head(`/v2/b/blobs/${blob.digest}`)).status, 200, 'still in b');
  t.equal((await request.delete(`/v2/a/blobs/${blob.digest}`)).status, 404, 'second delete is 404');
});

t.test('DELETE is refused with 405 UNSUPPORTED when deletes are disabled', async (t) => {
  const { request } = await registryFixture(t, { delete_enabled: false });
  const blob = randomBlob(64);
  await pushBlob(request, 'a', blob);
  const del = await request.delete(`/v2/a/blobs/${blob.digest}`);
  t.equal(del.status, 405);
  t.same(errorCodes(del.body), ['UNSUPPORTED']);
  t.equal((await request.head(`/v2/a/blobs/${blob.digest}`)).status, 200, 'still there');
});

t.test('sha512 blobs push and serve under their sha512 digest', async (t) => {
  const { request } = await registryFixture(t);
  const blob = randomBlob(5000, 'sha512');
  const put = await pushBlob(request, 'r', blob);
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], blob.digest);
  const get = await getRaw(request, `/v2/r/blobs/${blob.digest}`);
  t.equal(get.status, 200);
  t.equal(get.headers['docker-content-digest'], blob.digest);
  t.ok((get.body as Buffer).equals(blob.bytes));
  const ranged = await getRaw(request, `/v2/r/blobs/${blob.digest}`).set('Range', 'bytes=10-19');
  t.equal(ranged.status, 206);
  t.ok((ranged.body as Buffer).equals(blob.bytes.subarray(10, 20)));
});

t.test('a blob stored once is shared: pushing it again to another repository keeps one file', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(256);
  await pushBlob(fx.request, 'a', blob);
  await pushBlob(fx.request, 'b', blob);
  const files: string[] = [];
  for await (const b of fx.registry.deps.blobs.list()) files.push(b.digest);
  t.same(files.filter((d) => d === blob.digest), [blob.digest], 'one stored copy');
});

t.test('a blob whose file vanished (metadata says present) is a clean, uncacheable 404', async (t) => {
  const fx = await registryFixture(t);
  const blob = randomBlob(64);
  await pushBlob(fx.request, 'r', blob);
  await fx.registry.deps.blobs.delete(blob.digest); // e.g. a disk restored from an older backup
  const res = await fx.request.get(`/v2/r/blobs/${blob.digest}`);
  t.equal(res.status, 404);
  t.same(errorCodes(res.body), ['BLOB_UNKNOWN']);
  t.match(res.headers['content-type'], /^application\/json/);
  t.notOk(res.headers['cache-control'], 'an error must not be cached as if it were the immutable blob');
  t.notOk(res.headers['docker-content-digest'], 'no digest header on an error');
});
