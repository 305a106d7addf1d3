// Area 4: deleting tags, manifests and blobs, and what must survive a delete.
import type { CheckDef } from '../harness/types.js';
import { sha256, uniqueBlob } from '../oci/digest.js';
import { MT } from '../oci/media.js';
import { expectStatus, pushBlob, pushImage, pushManifest } from '../oci/push.js';
import { ociError, status } from './assert.js';
import { SPEC } from './spec.js';

const area = 'content' as const;
const ACCEPT = { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') };

export const contentChecks: CheckDef[] = [
  {
    id: 'content/delete/manifest-by-digest',
    area,
    title: 'DELETE of a manifest by digest answers 202 and the manifest and its tag are gone.',
    spec: SPEC.deleteManifests,
    level: 'MUST',
    feature: 'deletes',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'doomed');
      const del = await ctx.http.request('DELETE', `/v2/${repo}/manifests/${img.digest}`);
      status(t, del, 202, 'DELETE manifest by digest');
      const byDigest = await ctx.http.request('GET', `/v2/${repo}/manifests/${img.digest}`, { headers: ACCEPT });
      ociError(t, byDigest, 404, 'MANIFEST_UNKNOWN', 'GET deleted manifest by digest');
      const byTag = await ctx.http.request('GET', `/v2/${repo}/manifests/doomed`, { headers: ACCEPT });
      status(t, byTag, 404, 'GET tag of deleted manifest');
    },
  },
  {
    id: 'content/delete/tag',
    area,
    title: 'DELETE of a manifest by tag removes only that tag (202); the manifest stays reachable by digest and other tags.',
    spec: SPEC.deleteTags,
    level: 'MUST',
    feature: 'deleteByTag',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'keep');
      expectStatus(await pushManifest(ctx.http, repo, 'drop', img.manifest, img.mediaType), 201, 'PUT second tag');
      const del = await ctx.http.request('DELETE', `/v2/${repo}/manifests/drop`);
      status(t, del, 202, 'DELETE by tag');
      status(t, await ctx.http.request('GET', `/v2/${repo}/manifests/drop`, { headers: ACCEPT }), 404, 'deleted tag is gone');
      status(t, await ctx.http.request('GET', `/v2/${repo}/manifests/keep`, { headers: ACCEPT }), 200, 'other tag still resolves');
      status(t, await ctx.http.request('GET', `/v2/${repo}/manifests/${img.digest}`, { headers: ACCEPT }), 200, 'manifest still reachable by digest');
      const tags = await ctx.http.request('GET', `/v2/${repo}/tags/list`);
      t.same(tags.json<{ tags?: string[] }>()?.tags, ['keep'], 'tags/list no longer lists the deleted tag');
    },
  },
  {
    id: 'content/delete/blob',
    area,
    title: 'DELETE of a blob answers 202 and the blob then answers 404.',
    spec: SPEC.deleteBlobs,
    level: 'MUST',
    feature: 'deletes',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'v1');
      if (ctx.config.deleteManifestBeforeBlobs) {
        expectStatus(await ctx.http.request('DELETE', `/v2/${repo}/manifests/${img.digest}`), 202, 'DELETE manifest first');
      }
      const layer = img.layers[0]!;
      const del = await ctx.http.request('DELETE', `/v2/${repo}/blobs/${layer.digest}`);
      status(t, del, 202, 'DELETE blob');
      const head = await ctx.http.request('HEAD', `/v2/${repo}/blobs/${layer.digest}`);
      status(t, head, 404, 'HEAD deleted blob');
    },
  },
  {
    id: 'content/delete/shared-blob-survives',
    area,
    title: 'Deleting one image leaves a layer it shares with another image pullable, and the other image intact.',
    spec: `${SPEC.deleteManifests}; ${SPEC.pullBlobs}`,
    level: 'MUST',
    feature: 'deletes',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const shared = uniqueBlob(1024);
      const a = await pushImage(ctx.http, repo, 'a', { layers: [shared, uniqueBlob(100)] });
      const b = await pushImage(ctx.http, repo, 'b', { layers: [shared] });
      expectStatus(await ctx.http.request('DELETE', `/v2/${repo}/manifests/${a.digest}`), 202, 'DELETE image a');
      const blob = await ctx.http.request('GET', `/v2/${repo}/blobs/${sha256(shared)}`);
      status(t, blob, 200, 'shared layer still served');
      t.equal(blob.digest, sha256(shared), 'shared layer bytes intact');
      const m = await ctx.http.request('GET', `/v2/${repo}/manifests/b`, { headers: ACCEPT });
      status(t, m, 200, 'image b still resolves');
      t.ok(m.body.equals(b.manifest), 'image b manifest unchanged');
    },
  },
  {
    id: 'content/delete/unknown-manifest',
    area,
    title: 'DELETE of a manifest digest that does not exist answers 404 MANIFEST_UNKNOWN.',
    spec: `${SPEC.deleteManifests}; ${SPEC.errors}`,
    level: 'MUST',
    feature: 'deletes',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'v1');
      const del = await ctx.http.request('DELETE', `/v2/${repo}/manifests/${sha256(uniqueBlob())}`);
      ociError(t, del, 404, 'MANIFEST_UNKNOWN', 'DELETE unknown manifest');
    },
  },
  {
    id: 'content/delete/unknown-blob',
    area,
    title: 'DELETE of a blob digest that does not exist answers 404 BLOB_UNKNOWN.',
    spec: `${SPEC.deleteBlobs}; ${SPEC.errors}`,
    level: 'MUST',
    feature: 'deletes',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushBlob(ctx.http, repo, uniqueBlob(10));
      const del = await ctx.http.request('DELETE', `/v2/${repo}/blobs/${sha256(uniqueBlob())}`);
      ociError(t, del, 404, 'BLOB_UNKNOWN', 'DELETE unknown blob');
    },
  },
];
