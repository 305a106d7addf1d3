/** GET /v2/<name>/referrers/<digest>: OCI index of referrers, artifactType filter, pagination. */
import t from 'tap';
import { registryFixture, errorCodes, pushTree } from './helpers/registry.js';
import { MT, artifact, blobOf, descriptor, digestOf, ociImage, ociIndex, multiPlatformIndex, parsePlatform, type Built } from './helpers/oci.js';

const SIG = 'application/vnd.nitro.test.signature';
const SBOM = 'application/vnd.nitro.test.sbom+json';

t.test('referrers of a subject: an OCI index of descriptors with artifactType and annotations', async (t) => {
  const fx = await registryFixture(t);
  const subject = ociImage();
  await pushTree(fx.request, 'r', subject, 'v1');
  const sig = artifact({ artifactType: SIG, subject, annotations: { 'org.example.signer': 'alice' } });
  const sbom = artifact({ artifactType: SBOM, subject });
  // An image manifest with a subject but no artifactType: reported under its config media type.
  const image = ociImage({ subject, platform: parsePlatform('linux/arm64') });
  // An index can refer too.
  const idx = ociIndex([ociImage({ platform: parsePlatform('linux/s390x') })]);
  const indexReferrer = { ...idx };
  const unrelated = artifact({ artifactType: SIG, subject: ociImage({ platform: parsePlatform('linux/ppc64le') }) });
  for (const m of [sig, sbom, image, unrelated]) await pushTree(fx.request, 'r', m);
  await pushTree(fx.request, 'r', indexReferrer);

  const res = await fx.request.get(`/v2/r/referrers/${subject.digest}`);
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], MT.ociIndex);
  t.notOk(res.headers['oci-filters-applied'], 'no filter applied');
  t.equal(res.body.schemaVersion, 2);
  t.equal(res.body.mediaType, MT.ociIndex);
  const byDigest = new Map((res.body.manifests as { digest: string }[]).map((d) => [d.digest, d]));
  t.equal(byDigest.size, 3, 'the three referrers, nothing else');
  t.same(byDigest.get(sig.digest), {
    mediaType: MT.ociManifest,
    digest: sig.digest,
    size: sig.size,
    artifactType: SIG,
    annotations: { 'org.example.signer': 'alice' },
  });
  t.same(byDigest.get(sbom.digest), { mediaType: MT.ociManifest, digest: sbom.digest, size: sbom.size, artifactType: SBOM });
  t.match(byDigest.get(image.digest), { digest: image.digest, artifactType: MT.ociConfig }, 'config media type stands in for artifactType');

  const filtered = await fx.request.get(`/v2/r/referrers/${subject.digest}?artifactType=${encodeURIComponent(SIG)}`);
  t.equal(filtered.status, 200);
  t.equal(filtered.headers['oci-filters-applied'], 'artifactType');
  t.same(
    (filtered.body.manifests as { digest: string }[]).map((d) => d.digest),
    [sig.digest],
  );
  const none = await fx.request.get(`/v2/r/referrers/${subject.digest}?artifactType=application/nothing`);
  t.same(none.body.manifests, []);
  t.equal(none.headers['oci-filters-applied'], 'artifactType');
});

t.test('an index with a subject is a referrer too; deleting a referrer removes it', async (t) => {
  const fx = await registryFixture(t);
  const subject = multiPlatformIndex();
  await pushTree(fx.request, 'r', subject, 'multi');
  const child = ociImage({ platform: parsePlatform('linux/riscv64') });
  const idxDoc = ociIndex([child]);
  // Build an index with a subject by serialising a document by hand.
  const doc = { ...idxDoc.doc, subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, artifactType: SBOM };
  const bytes = Buffer.from(JSON.stringify(doc));
  const idx = { ...idxDoc, bytes, digest: digestOf(bytes), size: bytes.length, doc };
  await pushTree(fx.request, 'r', idx);
  let res = await fx.request.get(`/v2/r/referrers/${subject.digest}`);
  t.same(
    (res.body.manifests as { digest: string; mediaType: string; artifactType: string }[]).map((d) => [d.digest, d.mediaType, d.artifactType]),
    [[idx.digest, MT.ociIndex, SBOM]],
  );
  t.equal((await fx.request.delete(`/v2/r/manifests/${idx.digest}`)).status, 202);
  res = await fx.request.get(`/v2/r/referrers/${subject.digest}`);
  t.same(res.body.manifests, [], 'deleted referrer is gone');
});

t.test('unknown subjects and repositories: 200 with an empty index; bad digest → 400', async (t) => {
  const fx = await registryFixture(t);
  await pushTree(fx.request, 'r', ociImage(), 'v1');
  for (const path of [`/v2/r/referrers/${digestOf('nothing')}`, `/v2/never/pushed/referrers/${digestOf('nothing')}`]) {
    const res = await fx.request.get(path);
    t.equal(res.status, 200, path);
    t.equal(res.headers['content-type'], MT.ociIndex);
    t.same(res.body, { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
  }
  const bad = await fx.request.get('/v2/r/referrers/sha256:nothex');
  t.equal(bad.status, 400);
  t.same(errorCodes(bad.body), ['DIGEST_INVALID']);
  const tagged = await fx.request.get('/v2/r/referrers/v1');
  t.equal(tagged.status, 400, 'a tag is not a subject');
});

t.test('many referrers page with Link (max_page_size small)', async (t) => {
  const fx = await registryFixture(t, { max_page_size: 2 });
  const subject = ociImage();
  await pushTree(fx.request, 'r', subject, 'v1');
  const refs = Array.from({ length: 5 }, (_, i) => artifact({ artifactType: i % 2 ? SIG : SBOM, subject }));
  for (const r of refs) await pushTree(fx.request, 'r', r);

  const seen: string[] = [];
  let next: string | null = `/v2/r/referrers/${subject.digest}`;
  let pages = 0;
  for (; next && pages < 10; pages++) {
    const res = await fx.request.get(next);
    t.equal(res.status, 200);
    const page = (res.body.manifests as { digest: string }[]).map((d) => d.digest);
    t.ok(page.length <= 2, 'page within max_page_size');
    seen.push(...page);
    const link = res.headers.link as string | undefined;
    next = link ? (/^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] ?? null) : null;
  }
  t.equal(pages, 3, 'three pages for five referrers at two per page');
  t.same([...seen].sort(), refs.map((r) => r.digest).sort(), 'every referrer exactly once');

  // The filter survives pagination.
  const sboms = refs.filter((_, i) => i % 2 === 0).map((r) => r.digest);
  const got: string[] = [];
  next = `/v2/r/referrers/${subject.digest}?artifactType=${encodeURIComponent(SBOM)}`;
  for (let i = 0; next && i < 10; i++) {
    const res = await fx.request.get(next);
    t.equal(res.headers['oci-filters-applied'], 'artifactType');
    got.push(...(res.body.manifests as { digest: string }[]).map((d) => d.digest));
    const link = res.headers.link as string | undefined;
    next = link ? (/^<([^>]+)>;\s*rel="next"$/.exec(link)?.[1] ?? null) : null;
  }
  t.same(got.sort(), sboms.sort(), 'filtered pages hold only the filtered type');
});

/** What `docker buildx build --push` (provenance on) stores: an index listing each platform image and, per platform, an attestation manifest. */
function buildxIndex() {
  const build = (doc: Record<string, unknown>, blobs: ReturnType<typeof blobOf>[], children: Built[] = []): Built => {
    const b = blobOf(JSON.stringify(doc), doc.mediaType as string);
    return { ...b, doc, blobs, children };
  };
  const platforms = [ociImage({ platform: parsePlatform('linux/amd64') }), ociImage({ platform: parsePlatform('linux/arm64') })];
  const attestations = platforms.map((p) => {
    const config = blobOf(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } }), MT.ociConfig);
    const statement = (predicateType: string) =>
      blobOf(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: 'x', digest: { sha256: p.digest.slice(7) } }], predicate: {} }), 'application/vnd.in-toto+json');
    const provenance = statement('https://slsa.dev/provenance/v0.2');
    const sbom = statement('https://spdx.dev/Document');
    const doc = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: descriptor(config),
      layers: [
        descriptor(provenance, { annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }),
        descriptor(sbom, { annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }),
      ],
    };
    return build(doc, [config, provenance, sbom]);
  });
  const doc = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [
      ...platforms.map((p) => descriptor(p, { platform: p.platform! })),
      ...attestations.map((a, i) =>
        descriptor(a, {
          platform: { architecture: 'unknown', os: 'unknown' },
          annotations: { 'vnd.docker.reference.digest': platforms[i]!.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
        }),
      ),
    ],
  };
  return { index: build(doc, [], [...platforms, ...attestations]), platforms, attestations };
}

t.test('index-attached attestations (buildx) are referrers of the platform manifest they describe, with artifactType in-toto', async (t) => {
  const fx = await registryFixture(t);
  const { index, platforms, attestations } = buildxIndex();
  await pushTree(fx.request, 'app', index, 'latest');
  for (const [i, p] of platforms.entries()) {
    const res = await fx.request.get(`/v2/app/referrers/${p.digest}`);
    t.equal(res.status, 200);
    t.same(res.body.manifests, [
      {
        mediaType: MT.ociManifest,
        digest: attestations[i]!.digest,
        size: attestations[i]!.size,
        artifactType: 'application/vnd.in-toto+json',
        annotations: {
          'vnd.docker.reference.digest': p.digest,
          'vnd.docker.reference.type': 'attestation-manifest',
          'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2,https://spdx.dev/Document',
        },
      },
    ], `platform ${i}: its attestation, nothing else`);
    const filtered = await fx.request.get(`/v2/app/referrers/${p.digest}?artifactType=${encodeURIComponent('application/vnd.in-toto+json')}`);
    t.equal(filtered.body.manifests.length, 1, 'the artifactType filter finds it');
    t.equal(filtered.headers['oci-filters-applied'], 'artifactType');
  }
  t.same((await fx.request.get(`/v2/app/referrers/${index.digest}`)).body.manifests, [], 'the index itself has no referrers');
  t.same((await fx.request.get(`/v2/other/referrers/${platforms[0]!.digest}`)).body.manifests, [], 'per repository');
  // The relation lives with the index: delete it and the attestations are no longer listed.
  t.equal((await fx.request.delete(`/v2/app/manifests/${index.digest}`)).status, 202);
  t.same((await fx.request.get(`/v2/app/referrers/${platforms[0]!.digest}`)).body.manifests, []);
});
