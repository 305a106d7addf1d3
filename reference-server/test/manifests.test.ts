/**
 * /v2/<name>/manifests/<reference>: PUT/GET/HEAD by tag and digest for every manifest kind, verbatim
 * bytes, validation errors, the size limit, OCI-Subject, and DELETE by digest and by tag.
 */
import { request as httpRequest } from 'node:http';
import t, { type Test } from 'tap';
import { registryFixture, errorCodes, getRaw, pushBlob, pushTree, putManifest, putRaw, type RegistryFixture } from './helpers/registry.js';
import {
  MT,
  allBlobs,
  artifact,
  blobOf,
  digestOf,
  dockerImage,
  dockerList,
  multiPlatformIndex,
  ociImage,
  ociIndex,
  parsePlatform,
  type Built,
} from './helpers/oci.js';

async function assertServed(t: Test, fx: RegistryFixture, repo: string, ref: string, m: Built) {
  const get = await getRaw(fx.request, `/v2/${repo}/manifests/${ref}`);
  t.equal(get.status, 200, `GET ${ref}`);
  t.equal(get.headers['content-type'], m.mediaType, 'Content-Type is the stored media type');
  t.equal(get.headers['docker-content-digest'], m.digest);
  t.equal(get.headers['content-length'], String(m.size));
  t.ok((get.body as Buffer).equals(m.bytes), 'bytes served verbatim');
  const head = await fx.request.head(`/v2/${repo}/manifests/${ref}`);
  t.equal(head.status, 200, `HEAD ${ref}`);
  t.equal(head.headers['content-type'], m.mediaType);
  t.equal(head.headers['docker-content-digest'], m.digest);
  t.equal(head.headers['content-length'], String(m.size));
}

const kinds: [string, () => Built][] = [
  ['OCI image manifest', () => ociImage()],
  ['OCI index (linux/amd64 + linux/arm64)', () => multiPlatformIndex()],
  ['Docker schema2 manifest', () => dockerImage()],
  ['Docker manifest list', () => dockerList([dockerImage({ platform: parsePlatform('linux/amd64') }), dockerImage({ platform: parsePlatform('linux/arm64') })])],
  ['artifact with artifactType', () => artifact({ artifactType: 'application/vnd.nitro.test.sbom+json' })],
];

for (const [kind, make] of kinds) {
  t.test(`${kind}: PUT by tag and by digest, GET/HEAD by both`, async (t) => {
    const fx = await registryFixture(t);
    const m = make();
    for (const b of allBlobs(m)) t.equal((await pushBlob(fx.request, 'ns/app', b)).status, 201);
    for (const child of m.children) t.equal((await putManifest(fx.request, 'ns/app', child.digest, child)).status, 201, 'child by digest');
    const put = await putManifest(fx.request, 'ns/app', 'v1', m);
    t.equal(put.status, 201, 'PUT by tag');
    t.equal(put.headers.location, `/v2/ns/app/manifests/${m.digest}`);
    t.equal(put.headers['docker-content-digest'], m.digest);
    await assertServed(t, fx, 'ns/app', 'v1', m);
    await assertServed(t, fx, 'ns/app', m.digest, m);
    const again = await putManifest(fx.request, 'ns/app', m.digest, m);
    t.equal(again.status, 201, 'PUT by digest (idempotent)');
    t.equal(again.headers['docker-content-digest'], m.digest);
  });
}

t.test('bytes are stored and served verbatim (odd whitespace, key order, trailing newline)', async (t) => {
  const fx = await registryFixture(t);
  const odd = ociImage({
    serialize: (doc) => '\n  ' + JSON.stringify(doc, null, '\t').replace(/":/g, '"  :') + '  \r\n\n',
  });
  await pushTree(fx.request, 'odd', odd, 'spaced');
  t.equal(odd.digest, digestOf(odd.bytes), 'digest is over the exact bytes');
  await assertServed(t, fx, 'odd', 'spaced', odd);
  await assertServed(t, fx, 'odd', odd.digest, odd);
});

t.test('an OCI manifest without mediaType is accepted with a plain JSON or missing Content-Type', async (t) => {
  const fx = await registryFixture(t);
  const base = ociImage();
  const doc = { ...base.doc };
  delete doc.mediaType;
  const bytes = Buffer.from(JSON.stringify(doc));
  for (const b of allBlobs(base)) await pushBlob(fx.request, 'r', b);
  const put = await putRaw(fx.request, '/v2/r/manifests/nomt', MT.ociManifest, bytes);
  t.equal(put.status, 201);
  const get = await getRaw(fx.request, '/v2/r/manifests/nomt');
  t.equal(get.headers['content-type'], MT.ociManifest);
  t.ok((get.body as Buffer).equals(bytes));
});

t.test('a sha512 digest reference stores the manifest under its sha512 digest', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage({ algorithm: 'sha512' });
  for (const b of allBlobs(m)) await pushBlob(fx.request, 'r', b);
  t.match(m.digest, /^sha512:/);
  const put = await putManifest(fx.request, 'r', m.digest, m);
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], m.digest);
  await assertServed(t, fx, 'r', m.digest, m);
});

t.test('a digest reference must match the body: 400 DIGEST_INVALID', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage();
  for (const b of allBlobs(m)) await pushBlob(fx.request, 'r', b);
  const wrong = await putManifest(fx.request, 'r', digestOf('something else'), m);
  t.equal(wrong.status, 400);
  t.same(errorCodes(wrong.body), ['DIGEST_INVALID']);
  t.equal((await fx.request.head(`/v2/r/manifests/${m.digest}`)).status, 404, 'nothing stored');
});

t.test('missing blobs or child manifests → 400 MANIFEST_BLOB_UNKNOWN, nothing written', async (t) => {
  const fx = await registryFixture(t);
  const image = ociImage();
  const [config, layer] = image.blobs;
  await pushBlob(fx.request, 'r', config!); // the layer is missing
  const res = await putManifest(fx.request, 'r', 'latest', image);
  t.equal(res.status, 400);
  t.same(errorCodes(res.body), ['MANIFEST_BLOB_UNKNOWN']);
  t.equal((await fx.request.get('/v2/r/manifests/latest')).status, 404, 'tag not created');

  // A blob present in another repository does not count.
  await pushBlob(fx.request, 'elsewhere', layer!);
  t.equal((await putManifest(fx.request, 'r', 'latest', image)).status, 400, 'blob of another repository');

  const index = multiPlatformIndex();
  for (const b of allBlobs(index)) await pushBlob(fx.request, 'idx', b);
  await putManifest(fx.request, 'idx', index.children[0]!.digest, index.children[0]!); // second child missing
  const idx = await putManifest(fx.request, 'idx', 'multi', index);
  t.equal(idx.status, 400);
  t.same(errorCodes(idx.body), ['MANIFEST_BLOB_UNKNOWN']);
  t.equal((await fx.request.head(`/v2/idx/manifests/${index.digest}`)).status, 404);
});

t.test('manifests over 4 MiB → 413, announced or streamed', async (t) => {
  const fx = await registryFixture(t);
  const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
  const announced = await putRaw(fx.request, '/v2/r/manifests/big', MT.ociManifest, huge);
  t.equal(announced.status, 413);
  // Chunked transfer encoding: no Content-Length, the limit must hold while reading.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${fx.url}/v2/r/manifests/big`, { method: 'PUT', headers: { 'Content-Type': MT.ociManifest } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve(-1) : reject(e)));
    for (let i = 0; i < 5; i++) req.write(Buffer.alloc(1024 * 1024, 0x20));
    req.end();
  });
  t.ok(status === 413 || status === -1, `streamed oversize → 413 (got ${status})`);
  const exact = Buffer.alloc(4 * 1024 * 1024, 0x20); // at the limit: size is fine, content is not
  const atLimit = await putRaw(fx.request, '/v2/r/manifests/big', MT.ociManifest, exact);
  t.equal(atLimit.status, 400, 'exactly 4 MiB is read, then refused as invalid JSON');
});

t.test('invalid manifests → 400 MANIFEST_INVALID', async (t) => {
  const fx = await registryFixture(t);
  const image = ociImage();
  for (const b of allBlobs(image)) await pushBlob(fx.request, 'r', b);
  const d = image.doc as Record<string, unknown>;
  const cases: [string, string | Buffer, string][] = [
    ['not JSON', '{"schemaVersion": 2,', MT.ociManifest],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01]), MT.ociManifest],
    ['JSON array', '[1,2,3]', MT.ociManifest],
    ['JSON string', '"hello"', MT.ociManifest],
    ['schemaVersion 1', JSON.stringify({ ...d, schemaVersion: 1 }), MT.ociManifest],
    ['unsupported media type', JSON.stringify({ ...d, mediaType: 'application/vnd.example.thing+json' }), 'application/vnd.example.thing+json'],
    ['Docker schema1', JSON.stringify({ schemaVersion: 1, name: 'r', tag: 'x', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['Content-Type disagrees with mediaType', JSON.stringify(d), MT.ociIndex],
    ['config is missing', JSON.stringify({ ...d, config: undefined }), MT.ociManifest],
    ['bad config digest', JSON.stringify({ ...d, config: { mediaType: MT.ociConfig, digest: 'sha256:xyz', size: 2 } }), MT.ociManifest],
    ['negative size', JSON.stringify({ ...d, config: { mediaType: MT.ociConfig, digest: digestOf('x'), size: -1 } }), MT.ociManifest],
    ['layers not an array', JSON.stringify({ ...d, layers: 'x' }), MT.ociManifest],
    ['null layer', JSON.stringify({ ...d, layers: [null] }), MT.ociManifest],
    ['index without manifests', JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex }), MT.ociIndex],
    ['index with a bad entry', JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ digest: 5 }] }), MT.ociIndex],
    ['subject not a descriptor', JSON.stringify({ ...d, subject: 'sha256:abc' }), MT.ociManifest],
    ['Docker manifest without layers', JSON.stringify({ schemaVersion: 2, mediaType: MT.dockerManifest, config: d.config, layers: [] }), MT.dockerManifest],
  ];
  for (const [why, body, type] of cases) {
    const res = await putRaw(fx.request, '/v2/r/manifests/bad', type, body);
    t.equal(res.status, 400, why);
    t.same(errorCodes(res.body), ['MANIFEST_INVALID'], `${why}: MANIFEST_INVALID`);
  }
  t.equal((await fx.request.get('/v2/r/manifests/bad')).status, 404, 'no invalid manifest was tagged');
});

t.test('a manifest with a subject answers OCI-Subject; the subject need not exist', async (t) => {
  const fx = await registryFixture(t);
  const subject = ociImage();
  const ref = artifact({ artifactType: 'application/vnd.nitro.sig', subject });
  for (const b of allBlobs(ref)) await pushBlob(fx.request, 'r', b);
  const put = await putManifest(fx.request, 'r', ref.digest, ref);
  t.equal(put.status, 201, 'referrer before its subject');
  t.equal(put.headers['oci-subject'], subject.digest);
  await pushTree(fx.request, 'r', subject, 'v1');
  const plain = await putManifest(fx.request, 'r', 'v1', subject);
  t.notOk(plain.headers['oci-subject'], 'no OCI-Subject without a subject');
});

t.test('tags move: a second PUT to a tag points it at the new manifest', async (t) => {
  const fx = await registryFixture(t);
  const a = ociImage({ platform: parsePlatform('linux/amd64') });
  const b = ociImage({ platform: parsePlatform('linux/arm64') });
  await pushTree(fx.request, 'r', a, 'latest');
  await pushTree(fx.request, 'r', b, 'latest');
  await assertServed(t, fx, 'r', 'latest', b);
  await assertServed(t, fx, 'r', a.digest, a);
});

t.test('DELETE by digest removes the manifest and its tags; by tag removes only the tag', async (t) => {
  const fx = await registryFixture(t);
  const a = ociImage({ platform: parsePlatform('linux/amd64') });
  const b = ociImage({ platform: parsePlatform('linux/arm64') });
  await pushTree(fx.request, 'r', a, 'a1');
  await putManifest(fx.request, 'r', 'a2', a);
  await pushTree(fx.request, 'r', b, 'b1');
  await putManifest(fx.request, 'r', 'b2', b);

  const byTag = await fx.request.delete('/v2/r/manifests/b1');
  t.equal(byTag.status, 202, 'DELETE by tag');
  t.equal((await fx.request.get('/v2/r/manifests/b1')).status, 404, 'the tag is gone');
  await assertServed(t, fx, 'r', 'b2', b);
  await assertServed(t, fx, 'r', b.digest, b);

  const byDigest = await fx.request.delete(`/v2/r/manifests/${a.digest}`);
  t.equal(byDigest.status, 202, 'DELETE by digest');
  for (const ref of [a.digest, 'a1', 'a2']) {
    const res = await fx.request.get(`/v2/r/manifests/${ref}`);
    t.equal(res.status, 404, `${ref} gone`);
    t.same(errorCodes(res.body), ['MANIFEST_UNKNOWN']);
  }
  const tags = await fx.request.get('/v2/r/tags/list');
  t.same(tags.body.tags, ['b2'], 'only the untouched tag is left');

  const again = await fx.request.delete(`/v2/r/manifests/${a.digest}`);
  t.equal(again.status, 404);
  t.same(errorCodes(again.body), ['MANIFEST_UNKNOWN']);
  const unknownTag = await fx.request.delete('/v2/r/manifests/nope');
  t.equal(unknownTag.status, 404);
  t.same(errorCodes(unknownTag.body), ['MANIFEST_UNKNOWN']);
});

t.test('unknown manifests: MANIFEST_UNKNOWN in a known repository, NAME_UNKNOWN otherwise', async (t) => {
  const fx = await registryFixture(t);
  await pushTree(fx.request, 'known', ociImage(), 'v1');
  const unknownTag = await fx.request.get('/v2/known/manifests/v2');
  t.equal(unknownTag.status, 404);
  t.same(errorCodes(unknownTag.body), ['MANIFEST_UNKNOWN']);
  const unknownDigest = await fx.request.get(`/v2/known/manifests/${digestOf('nope')}`);
  t.equal(unknownDigest.status, 404);
  t.same(errorCodes(unknownDigest.body), ['MANIFEST_UNKNOWN']);
  const head = await fx.request.head('/v2/known/manifests/v2');
  t.equal(head.status, 404);
  const unknownRepo = await fx.request.get('/v2/never/pushed/manifests/v1');
  t.equal(unknownRepo.status, 404);
  t.same(errorCodes(unknownRepo.body), ['NAME_UNKNOWN']);
});

t.test('invalid references: PUT/DELETE answer 400 TAG_INVALID / DIGEST_INVALID; GET/HEAD answer 404 MANIFEST_UNKNOWN', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage();
  for (const b of allBlobs(m)) await pushBlob(fx.request, 'r', b);
  t.equal((await putManifest(fx.request, 'r', 'a'.repeat(128), m)).status, 201, 'a 128-character tag is valid');
  for (const tag of ['a'.repeat(129), '-dash', '.dot', 'sp%20ace', 'a%2Fb', '%2E%2E%2F%2E%2E']) {
    const res = await putManifest(fx.request, 'r', tag, m);
    t.equal(res.status, 400, `tag ${tag.slice(0, 20)}`);
    t.same(errorCodes(res.body), ['TAG_INVALID']);
    const del = await fx.request.delete(`/v2/r/manifests/${tag}`);
    t.equal(del.status, 400, `DELETE tag ${tag.slice(0, 20)}`);
    t.same(errorCodes(del.body), ['TAG_INVALID']);
    const get = await fx.request.get(`/v2/r/manifests/${tag}`);
    t.equal(get.status, 404, `GET tag ${tag.slice(0, 20)}`);
    t.same(errorCodes(get.body), ['MANIFEST_UNKNOWN']);
    t.equal((await fx.request.head(`/v2/r/manifests/${tag}`)).status, 404, `HEAD tag ${tag.slice(0, 20)}`);
  }
  // The official Ginkgo suite's probe.
  const probe = await fx.request.get('/v2/r/manifests/.INVALID_MANIFEST_NAME');
  t.equal(probe.status, 404);
  t.same(errorCodes(probe.body), ['MANIFEST_UNKNOWN']);
  for (const d of ['sha256:abc', `sha512:${'a'.repeat(64)}`, `foo:${'a'.repeat(64)}`]) {
    const put = await putManifest(fx.request, 'r', d, m);
    t.equal(put.status, 400, `PUT digest ${d.slice(0, 20)}`);
    t.same(errorCodes(put.body), ['DIGEST_INVALID']);
    const del = await fx.request.delete(`/v2/r/manifests/${d}`);
    t.equal(del.status, 400, `DELETE digest ${d.slice(0, 20)}`);
    t.same(errorCodes(del.body), ['DIGEST_INVALID']);
    const res = await fx.request.get(`/v2/r/manifests/${d}`);
    t.equal(res.status, 404, `GET digest ${d.slice(0, 20)}`);
    t.same(errorCodes(res.body), ['MANIFEST_UNKNOWN']);
    t.equal((await fx.request.head(`/v2/r/manifests/${d}`)).status, 404, `HEAD digest ${d.slice(0, 20)}`);
  }
});

t.test('an index may reference children pushed by digest only; a blob is not a child manifest', async (t) => {
  const fx = await registryFixture(t);
  const image = ociImage();
  await pushTree(fx.request, 'r', image);
  const config = image.blobs[0]!;
  // An index whose "child" is a blob, not a manifest: refused.
  const wrong = ociIndex([{ ...blobOf(config.bytes, MT.ociManifest), doc: {}, blobs: [], children: [] }]);
  const res = await putManifest(fx.request, 'r', 'wrong', wrong);
  t.equal(res.status, 400);
  t.same(errorCodes(res.body), ['MANIFEST_BLOB_UNKNOWN']);
});

t.test('PUT by digest with ?tag= (several): tags set in the same write, OCI-Tag lists them; a bad one → 400, nothing tagged', async (t) => {
  const fx = await registryFixture(t);
  const m = ociImage();
  for (const b of allBlobs(m)) await pushBlob(fx.request, 'r', b);
  const bad = await putRaw(fx.request, `/v2/r/manifests/${m.digest}?tag=ok&tag=-bad`, m.mediaType, m.bytes);
  t.equal(bad.status, 400);
  t.same(errorCodes(bad.body), ['TAG_INVALID']);
  t.equal((await fx.request.get('/v2/r/manifests/ok')).status, 404, 'no tag from a refused request');
  const put = await putRaw(fx.request, `/v2/r/manifests/${m.digest}?tag=a&tag=b&tag=a`, m.mediaType, m.bytes);
  t.equal(put.status, 201);
  t.same(String(put.headers['oci-tag']).split(/,\s*/).sort(), ['a', 'b'], 'OCI-Tag names each tag once');
  for (const tag of ['a', 'b']) t.equal((await fx.request.get(`/v2/r/manifests/${tag}`)).headers['docker-content-digest'], m.digest, `tag ${tag}`);
});
