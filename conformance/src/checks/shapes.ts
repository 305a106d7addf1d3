// Area 5: what real clients push — a buildx index with attestations, a big streamed layer, parallel uploads.
import type { CheckDef } from '../harness/types.js';
import { digestOfStream, seededStream, sha256, uniqueBlob } from '../oci/digest.js';
import { MT } from '../oci/media.js';
import { expectStatus, json, locationOf, ociManifest, pushBlob, pushImage, pushManifest, startUpload, withQuery } from '../oci/push.js';
import { header, status } from './assert.js';
import { SPEC } from './spec.js';

const area = 'shapes' as const;
const ACCEPT = { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') };

export const shapeChecks: CheckDef[] = [
  {
    id: 'shapes/buildx/attestation-index',
    area,
    title: 'A buildx-style index (2 platforms + unknown/unknown attestation manifests) round-trips with every child pullable.',
    spec: SPEC.imageIndex,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const platforms = [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
      ];
      const children: Array<Record<string, unknown>> = [];
      const allDigests: string[] = [];
      for (const platform of platforms) {
        const img = await pushImage(ctx.http, repo, null);
        children.push({ ...img.descriptor, platform });
        allDigests.push(img.digest);
        // BuildKit's attestation manifest: in-toto layers, config of the image config type, pointing at its image.
        const cfg = await pushBlob(ctx.http, repo, Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } })));
        const statement = await pushBlob(ctx.http, repo, json({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ name: repo, digest: { sha256: img.digest.slice(7) } }], nonce: uniqueBlob(8).toString('hex') }));
        const att = ociManifest({
          config: { ...cfg, mediaType: MT.ociConfig },
          layers: [{ ...statement, mediaType: MT.inToto, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
        });
        expectStatus(await pushManifest(ctx.http, repo, sha256(att), att, MT.ociManifest), 201, 'PUT attestation manifest');
        children.push({
          mediaType: MT.ociManifest,
          digest: sha256(att),
          size: att.length,
          annotations: { 'vnd.docker.reference.digest': img.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
          platform: { architecture: 'unknown', os: 'unknown' },
        });
        allDigests.push(sha256(att));
      }
      const index = json({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: children });
      const put = await pushManifest(ctx.http, repo, 'latest', index, MT.ociIndex);
      status(t, put, 201, 'PUT buildx index');
      header(t, put, 'docker-content-digest', sha256(index), 'PUT buildx index');
      const got = await ctx.http.request('GET', `/v2/${repo}/manifests/latest`, { headers: ACCEPT });
      status(t, got, 200, 'GET index by tag');
      t.ok(got.body.equals(index), 'index bytes identical (annotations and unknown/unknown platforms preserved)');
      for (const d of allDigests) {
        const child = await ctx.http.request('HEAD', `/v2/${repo}/manifests/${d}`, { headers: ACCEPT });
        status(t, child, 200, `child ${d.slice(0, 19)} resolves`);
      }
    },
  },
  {
    id: 'shapes/large-layer/streamed',
    area,
    title: 'A 64 MiB layer streamed in one PATCH is stored intact (size and digest verified on a streamed pull).',
    spec: SPEC.streamed,
    level: 'MUST',
    timeoutMs: 120_000,
    async run(t, ctx) {
      const repo = ctx.repo('');
      const size = Math.round(ctx.config.largeLayerMiB * 1024 * 1024);
      const seed = `${ctx.runId}-large`;
      const { digest } = await digestOfStream(seededStream(seed, size));
      const loc = await startUpload(ctx.http, repo);
      const patch = await ctx.http.request('PATCH', loc, { body: seededStream(seed, size), headers: { 'content-type': 'application/octet-stream' } });
      status(t, patch, 202, `streamed PATCH of ${ctx.config.largeLayerMiB} MiB`);
      const put = await ctx.http.request('PUT', withQuery(locationOf(patch, 'PATCH'), 'digest', digest));
      status(t, put, 201, 'closing PUT');
      header(t, put, 'docker-content-digest', digest, 'closing PUT');
      const head = await ctx.http.request('HEAD', `/v2/${repo}/blobs/${digest}`);
      header(t, head, 'content-length', String(size), 'HEAD large blob');
      const got = await ctx.http.request('GET', `/v2/${repo}/blobs/${digest}`, { read: 'digest' });
      status(t, got, 200, 'GET large blob');
      t.equal(got.length, size, 'pulled size');
      t.equal(got.digest, digest, 'pulled digest');
    },
  },
  {
    id: 'shapes/parallel/same-blob',
    area,
    title: 'Four concurrent uploads of the same blob to one repository all succeed and leave one intact blob.',
    spec: SPEC.postPut,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(256 * 1024);
      const digest = sha256(data);
      const results = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const loc = await startUpload(ctx.http, repo);
          return ctx.http.request('PUT', withQuery(loc, 'digest', digest), { body: data, headers: { 'content-type': 'application/octet-stream' } });
        }),
      );
      results.forEach((r, i) => {
        status(t, r, 201, `upload #${i + 1}`);
        header(t, r, 'docker-content-digest', digest, `upload #${i + 1}`);
      });
      const got = await ctx.http.request('GET', `/v2/${repo}/blobs/${digest}`);
      t.equal(got.digest, digest, 'blob intact after racing uploads');
    },
  },
  {
    id: 'shapes/parallel/multi-arch-push',
    area,
    title: 'Two platform images pushed concurrently into one repository, then an index over them, all resolve.',
    spec: SPEC.pushManifests,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const shared = uniqueBlob(64 * 1024);
      const imgs = await Promise.all([0, 1].map(() => pushImage(ctx.http, repo, null, { layers: [shared, uniqueBlob(1000)] })));
      const index = json({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: imgs.map((img, i) => ({ ...img.descriptor, platform: { architecture: i ? 'arm64' : 'amd64', os: 'linux' } })),
      });
      status(t, await pushManifest(ctx.http, repo, 'multi', index, MT.ociIndex), 201, 'PUT index');
      for (const img of imgs) status(t, await ctx.http.request('HEAD', `/v2/${repo}/manifests/${img.digest}`, { headers: ACCEPT }), 200, 'child resolves');
    },
  },
];
