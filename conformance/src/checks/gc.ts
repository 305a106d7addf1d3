// Area 8: garbage collection, triggered through the Nitro API or a shell command, checked from the outside.
import type { CheckContext, CheckDef } from '../harness/types.js';
import { RegistryFailure } from '../harness/types.js';
import { sha256, uniqueBlob } from '../oci/digest.js';
import { EMPTY_JSON, MT } from '../oci/media.js';
import { expectStatus, ociManifest, pushBlob, pushImage, pushManifest } from '../oci/push.js';
import type { GcReport } from '../setup/adapter.js';
import { status } from './assert.js';
import { gcTarget, need, type RuleTarget } from './rules-helpers.js';
import { SPEC } from './spec.js';

const area = 'gc' as const;
const ACCEPT = { accept: [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ') };
const needsGc = (c: { gc: { trigger: string } }) => (c.gc.trigger === 'none' ? 'GC disabled (gc.trigger: none)' : undefined);

/** Run GC once; waits out the configured grace period first so fresh uploads are eligible. */
async function triggerGc(ctx: CheckContext, target: RuleTarget, dryRun: boolean): Promise<GcReport | undefined> {
  const gc = need(ctx, 'gc');
  if (dryRun && !ctx.setup?.gcDryRun) ctx.skip('the GC hook cannot do a dry run (put {dryRun} in its command, or read NC_DRY_RUN)');
  const { graceSeconds } = ctx.config.gc;
  if (graceSeconds > 0) await new Promise((r) => setTimeout(r, (graceSeconds + 1) * 1000));
  const report = await gc(target, { dryRun, graceSeconds });
  ctx.note(`GC ran through the ${ctx.setup!.kind} setup${dryRun ? ' (dry run)' : ''}`);
  return report;
}

export const gcChecks: CheckDef[] = [
  {
    id: 'gc/unreferenced-blob-removed',
    area,
    title: 'A blob no manifest references is gone after GC, while the tagged image’s blobs stay.',
    spec: SPEC.gc,
    level: 'MUST',
    enabled: needsGc,
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      const img = await pushImage(ctx.http, target.image, 'kept');
      const orphan = await pushBlob(ctx.http, target.image, uniqueBlob(4096));
      await triggerGc(ctx, target, false);
      status(t, await ctx.http.request('HEAD', `/v2/${target.image}/blobs/${orphan.digest}`), 404, 'orphan blob is gone');
      for (const d of [img.config, ...img.layers]) {
        const got = await ctx.http.request('GET', `/v2/${target.image}/blobs/${d.digest}`);
        t.equal(got.digest, d.digest, `referenced blob ${d.digest.slice(0, 19)} intact`);
      }
      status(t, await ctx.http.request('GET', `/v2/${target.image}/manifests/kept`, { headers: ACCEPT }), 200, 'tagged manifest intact');
    },
  },
  {
    id: 'gc/shared-blob-intact',
    area,
    title: 'After one image is deleted and GC runs, a layer it shared with a live image stays and its own layer goes.',
    spec: SPEC.gc,
    level: 'MUST',
    enabled: needsGc,
    feature: 'deletes',
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      const shared = uniqueBlob(2048);
      const own = uniqueBlob(1024);
      const a = await pushImage(ctx.http, target.image, 'a', { layers: [shared, own] });
      const b = await pushImage(ctx.http, target.image, 'b', { layers: [shared] });
      expectStatus(await ctx.http.request('DELETE', `/v2/${target.image}/manifests/${a.digest}`), 202, 'DELETE image a');
      await triggerGc(ctx, target, false);
      const s = await ctx.http.request('GET', `/v2/${target.image}/blobs/${sha256(shared)}`);
      t.equal(s.digest, sha256(shared), 'shared layer intact');
      status(t, await ctx.http.request('HEAD', `/v2/${target.image}/blobs/${sha256(own)}`), 404, 'layer only the deleted image used is gone');
      const m = await ctx.http.request('GET', `/v2/${target.image}/manifests/b`, { headers: ACCEPT });
      t.ok(m.body.equals(b.manifest), 'live image manifest intact');
    },
  },
  {
    id: 'gc/untagged-manifest-removed',
    area,
    title: 'GC with delete-untagged removes a manifest no tag or index references, and its unique layer.',
    spec: SPEC.gc,
    level: 'MUST',
    enabled: needsGc,
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      await pushImage(ctx.http, target.image, 'kept');
      const loose = await pushImage(ctx.http, target.image, null);
      await triggerGc(ctx, target, false);
      status(t, await ctx.http.request('HEAD', `/v2/${target.image}/manifests/${loose.digest}`, { headers: ACCEPT }), 404, 'untagged manifest is gone');
      status(t, await ctx.http.request('HEAD', `/v2/${target.image}/blobs/${loose.layers[0]!.digest}`), 404, 'its unique layer is gone');
    },
  },
  {
    id: 'gc/referrers-kept',
    area,
    title: 'A referrer (untagged, with a subject) survives GC while its subject lives, and is still listed.',
    spec: `${SPEC.gc}; ${SPEC.referrers}`,
    level: 'MUST',
    enabled: needsGc,
    feature: 'referrers',
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      const subject = await pushImage(ctx.http, target.image, 'subject');
      const empty = await pushBlob(ctx.http, target.image, EMPTY_JSON);
      const sbom = await pushBlob(ctx.http, target.image, uniqueBlob(100));
      const m = ociManifest({
        artifactType: 'application/vnd.example.sbom.v1+json',
        config: { ...empty, mediaType: MT.ociEmpty },
        layers: [{ ...sbom, mediaType: 'application/vnd.example.sbom.v1+json' }],
        subject: subject.descriptor,
      });
      expectStatus(await pushManifest(ctx.http, target.image, sha256(m), m, MT.ociManifest), 201, 'PUT referrer');
      await triggerGc(ctx, target, false);
      status(t, await ctx.http.request('GET', `/v2/${target.image}/manifests/${sha256(m)}`, { headers: ACCEPT }), 200, 'referrer manifest kept');
      const blob = await ctx.http.request('GET', `/v2/${target.image}/blobs/${sbom.digest}`);
      t.equal(blob.digest, sbom.digest, 'referrer layer kept');
      const list = await ctx.http.request('GET', `/v2/${target.image}/referrers/${subject.digest}`);
      t.ok((list.json<{ manifests?: Array<{ digest: string }> }>()?.manifests ?? []).some((d) => d.digest === sha256(m)), 'still listed by the referrers API');
    },
  },
  {
    id: 'gc/dry-run-deletes-nothing',
    area,
    title: 'A dry-run GC reports what it would free but deletes nothing.',
    spec: SPEC.gc,
    level: 'MUST',
    enabled: needsGc,
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      await pushImage(ctx.http, target.image, 'kept');
      const orphan = await pushBlob(ctx.http, target.image, uniqueBlob(3000));
      const report = await triggerGc(ctx, target, true);
      if (report) {
        t.equal(report.dry_run, true, 'report says dry_run');
        t.ok(report.blobs_deleted >= 1, 'report counts the orphan blob it would delete', { got: report.blobs_deleted });
      }
      status(t, await ctx.http.request('HEAD', `/v2/${target.image}/blobs/${orphan.digest}`), 200, 'orphan blob still present after dry run');
    },
  },
  {
    id: 'gc/stats-move',
    area,
    title: 'Repository stats drop by what GC freed (blobs, bytes) and record last_gc.',
    spec: `${SPEC.gc}; GET /api/repository/{id}/stats`,
    level: 'MUST',
    enabled: needsGc,
    timeoutMs: 180_000,
    exclusive: true,
    async run(t, ctx) {
      const target = await gcTarget(ctx);
      await pushImage(ctx.http, target.image, 'kept');
      const size = 5000;
      await pushBlob(ctx.http, target.image, uniqueBlob(size));
      const stats = need(ctx, 'stats');
      const before = await stats(target);
      const report = await triggerGc(ctx, target, false);
      if (!report) throw new RegistryFailure('GC returned no report');
      const after = await stats(target);
      t.ok(report.blobs_deleted >= 1, 'GC reports at least one blob deleted', { got: report.blobs_deleted });
      t.ok(report.bytes_freed >= size, `GC reports at least ${size} bytes freed`, { got: report.bytes_freed });
      t.equal(after.total_blobs, before.total_blobs - report.blobs_deleted, 'total_blobs drops by blobs_deleted', { got: [before.total_blobs, after.total_blobs] });
      t.ok(after.storage_used <= before.storage_used - size, 'storage_used drops by at least the orphan size', { got: [before.storage_used, after.storage_used] });
      t.ok(after.last_gc, 'last_gc is set');
      t.equal(after.total_tags, before.total_tags, 'tags unchanged');
    },
  },
];
