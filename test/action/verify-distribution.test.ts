// Verification against a real registry: CNCF Distribution 2.8, images pushed with skopeo from OCI layouts
// built here. Covers the happy path, a deleted layer, a missing platform, and the buildx double-push trap
// (a tag left on a child manifest) with and without repair.
import { rmSync, unlinkSync } from 'node:fs';
import t from 'tap';
import { RegistryClient } from '../../src/registry/client.js';
import { verifyImages, type VerifyRequest } from '../../src/verify/verify-image.js';
import { distributionAvailable, distributionBlobPath, startDistribution } from './helpers/distribution.js';
import { buildOciLayout, readLayoutBlob, skopeoPush } from './helpers/oci-layout.js';

if (!distributionAvailable()) {
  t.plan(0, 'CNCF Distribution (/usr/bin/docker-registry) is not installed');
} else {
  const registry = await startDistribution();
  t.teardown(() => registry.stop());
  const layout = buildOciLayout(['linux/amd64', 'linux/arm64/v8'], { attestation: true });
  t.teardown(() => rmSync(layout.dir, { recursive: true, force: true }));
  const deps = {
    clientFor: (host: string) => new RegistryClient({ host, insecure: true, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 50 } }),
    log: () => {},
  };
  const request = (repo: string, extra: Partial<VerifyRequest> = {}): VerifyRequest => ({
    images: [`${registry.host}/${repo}:v1`, `${registry.host}/${repo}:latest`],
    expectedDigest: layout.indexDigest,
    platforms: ['linux/amd64', 'linux/arm64'],
    pull: false,
    repair: false,
    ...extra,
  });

  t.test('a correct two-platform push verifies; attestations are not platforms', async (t) => {
    skopeoPush(layout, `${registry.host}/good/app:v1`);
    skopeoPush(layout, `${registry.host}/good/app:latest`);
    for (const pull of [false, true]) {
      const report = await verifyImages(request('good/app', { pull }), deps);
      t.same(report.failures, [], `no failures (pull=${pull})`);
      t.equal(report.ok, true);
      t.same(report.tags.map((x) => [x.tag, x.resolved, x.ok]), [['v1', layout.indexDigest, true], ['latest', layout.indexDigest, true]]);
      t.same(report.platforms.map((p) => [p.platform, p.digest]), [['linux/amd64', layout.platforms['linux/amd64']], ['linux/arm64/v8', layout.platforms['linux/arm64/v8']]]);
      t.equal(report.attestations.length, 1, 'one attestation reported');
      t.equal(report.attestations[0].platform, 'linux/amd64', 'attestation tied to the platform it describes');
      t.equal(report.mediaType, 'application/vnd.oci.image.index.v1+json');
    }
  });

  t.test('a Nitro-style path prefix (host/storage/repo/name): the host is the part before the first slash', async (t) => {
    skopeoPush(layout, `${registry.host}/storage/my-project/app:v1`);
    const report = await verifyImages({ ...request('storage/my-project/app'), images: [`${registry.host}/storage/my-project/app:v1`] }, deps);
    t.same(report.failures, []);
    t.equal(report.tags[0].repository, `${registry.host}/storage/my-project/app`);
    t.equal(report.platforms.length, 2);
  });

  t.test('without an expected digest the first tag is the truth (verify-only usage)', async (t) => {
    const report = await verifyImages(request('good/app', { expectedDigest: undefined }), deps);
    t.equal(report.ok, true);
    t.equal(report.digest, layout.indexDigest);
    t.match(report.warnings[0], /no expected digest given/);
  });

  t.test('a platform that was requested but not pushed fails and names the platform', async (t) => {
    const report = await verifyImages(request('good/app', { platforms: ['linux/amd64', 'linux/s390x'] }), deps);
    t.equal(report.ok, false);
    t.equal(report.failures.length, 1);
    t.equal(report.failures[0].code, 'PLATFORM_MISSING');
    t.match(report.failures[0].message, /platform linux\/s390x is not in the index \(it lists linux\/amd64, linux\/arm64\/v8 and 1 attestation/);
  });

  t.test('a wrong expected digest fails every tag with TAG_MISMATCH', async (t) => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const report = await verifyImages(request('good/app', { expectedDigest: wrong }), deps);
    t.equal(report.ok, false);
    t.same(report.failures.map((f) => f.code).sort(), ['MANIFEST_MISSING', 'TAG_MISMATCH', 'TAG_MISMATCH']);
  });

  t.test('a layer deleted behind the registry\'s back fails with tag, platform and blob named', async (t) => {
    skopeoPush(layout, `${registry.host}/broken/app:v1`);
    skopeoPush(layout, `${registry.host}/broken/app:latest`);
    // Blobs are shared by all repositories of one Distribution instance: check good/app first, then break.
    const arm = layout.layers['linux/arm64/v8'];
    unlinkSync(distributionBlobPath(registry.storage, arm.digest));
    for (const pull of [false, true]) {
      const report = await verifyImages(request('broken/app', { pull }), deps);
      t.equal(report.ok, false, `fails (pull=${pull})`);
      const f = report.failures.find((x) => x.code === 'BLOB_MISSING');
      t.ok(f, 'BLOB_MISSING reported');
      t.equal(f?.blob, arm.digest);
      t.equal(f?.platform, 'linux/arm64/v8');
      t.match(f?.message, new RegExp(`broken/app, platform linux/arm64/v8: layer ${arm.digest} \\(${arm.size} bytes\\) is missing`));
      t.equal(report.platforms.find((p) => p.platform === 'linux/amd64')?.ok, true, 'the intact platform is still ok');
    }
  });

  t.test('the buildx double-push trap: a tag on a child manifest is caught, and repair re-points it', async (t) => {
    // Push the image fresh (the deleted layer broke the shared blob store for arm64): use a new layout.
    const fresh = buildOciLayout(['linux/amd64', 'linux/arm64'], { attestation: true });
    t.teardown(() => rmSync(fresh.dir, { recursive: true, force: true }));
    skopeoPush(fresh, `${registry.host}/trap/app:v1`);
    skopeoPush(fresh, `${registry.host}/trap/app:latest`);
    // What the racing `docker push` leaves behind: the tag holds one platform manifest.
    const child = fresh.platforms['linux/arm64'];
    const res = await fetch(`http://${registry.host}/v2/trap/app/manifests/latest`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: readLayoutBlob(fresh, child),
    });
    t.equal(res.status, 201, 'tag moved to the child manifest');

    const req = { ...request('trap/app'), expectedDigest: fresh.indexDigest };
    const caught = await verifyImages(req, deps);
    t.equal(caught.ok, false);
    t.equal(caught.failures.length, 1);
    t.equal(caught.failures[0].code, 'TAG_ON_CHILD');
    t.match(caught.failures[0].message, `trap/app:latest resolves to ${child} (a platform manifest of the index), expected ${fresh.indexDigest}`);

    const repaired = await verifyImages({ ...req, repair: true }, deps);
    t.same(repaired.failures, [], 'repair leaves no failures');
    const latest = repaired.tags.find((x) => x.tag === 'latest');
    t.equal(latest?.repaired, true);
    t.equal(latest?.resolvedBeforeRepair, child);
    t.equal(latest?.resolved, fresh.indexDigest);
    t.match(repaired.warnings.join('\n'), /repaired/);

    const again = await verifyImages(req, deps);
    t.equal(again.ok, true, 'a fresh verification without repair passes: the registry really changed');
  });

  t.test('repair never moves back a tag that another push moved on purpose (TAG_MISMATCH)', async (t) => {
    const mine = buildOciLayout(['linux/amd64', 'linux/arm64'], { attestation: true });
    const theirs = buildOciLayout(['linux/amd64', 'linux/arm64']); // no attestation: another index digest
    t.teardown(() => rmSync(mine.dir, { recursive: true, force: true }));
    t.teardown(() => rmSync(theirs.dir, { recursive: true, force: true }));
    skopeoPush(mine, `${registry.host}/moved/app:v1`);
    skopeoPush(theirs, `${registry.host}/moved/app:latest`); // someone else's later push of :latest
    const req = { ...request('moved/app'), expectedDigest: mine.indexDigest, repair: true };
    const report = await verifyImages(req, deps);
    t.equal(report.ok, false, 'the mismatch is reported');
    t.same(report.failures.map((f) => f.code), ['TAG_MISMATCH']);
    const res = await fetch(`http://${registry.host}/v2/moved/app/manifests/latest`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    t.equal(res.headers.get('docker-content-digest'), theirs.indexDigest, 'their push is left in place');
  });

  t.test('a tag that does not exist fails with TAG_MISSING', async (t) => {
    const report = await verifyImages({ ...request('good/app'), images: [`${registry.host}/good/app:nope`] }, deps);
    t.equal(report.ok, false);
    t.equal(report.failures[0].code, 'TAG_MISSING');
  });
}
