// Area 2: blob and manifest push/pull over every upload style the spec allows.
import type { CheckDef, TapTest } from '../harness/types.js';
import type { HttpClient, Res } from '../http/client.js';
import { sha256, sha512, uniqueBlob, uniqueConfig } from '../oci/digest.js';
import { MT, EMPTY_JSON } from '../oci/media.js';
import {
  expectStatus,
  json,
  locationOf,
  ociManifest,
  pushBlob,
  pushImage,
  pushManifest,
  startUpload,
  withQuery,
  type Descriptor,
} from '../oci/push.js';
import { hasHeader, header, ociError, status } from './assert.js';
import { SPEC } from './spec.js';

const area = 'pull-push' as const;

/** After a completed upload: 201, a Location, the right digest, and the bytes pull back unchanged. */
async function verifyStored(t: TapTest, http: HttpClient, repo: string, res: Res, data: Buffer, what: string): Promise<void> {
  const digest = sha256(data);
  status(t, res, 201, what);
  hasHeader(t, res, 'location', what);
  header(t, res, 'docker-content-digest', digest, what);
  const got = await http.request('GET', `/v2/${repo}/blobs/${digest}`);
  status(t, got, 200, 'GET the pushed blob');
  t.equal(got.digest, digest, 'pulled bytes hash to the pushed digest');
}

function rangeEnd(res: Res): number | undefined {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function patchChunk(http: HttpClient, loc: string, data: Buffer, start: number): Promise<Res> {
  return http.request('PATCH', loc, {
    body: data,
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${start + data.length - 1}`,
    },
  });
}

export const pullPushChecks: CheckDef[] = [
  {
    id: 'pull/blob/head',
    area,
    title: 'HEAD of a pushed blob answers 200 with its Content-Length and Docker-Content-Digest.',
    spec: SPEC.pullBlobs,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(777);
      const d = await pushBlob(ctx.http, repo, data);
      const res = await ctx.http.request('HEAD', `/v2/${repo}/blobs/${d.digest}`);
      status(t, res, 200, 'HEAD blob');
      header(t, res, 'content-length', String(data.length), 'HEAD blob');
      header(t, res, 'docker-content-digest', d.digest, 'HEAD blob', 'SHOULD');
      // fetch never hands out a HEAD body, so the raw socket tells whether one was sent.
      const raw = await ctx.http.headBody(`/v2/${repo}/blobs/${d.digest}`);
      t.equal(raw.bodyBytes, 0, 'HEAD has no body (RFC 9110 §9.3.2, read from the socket)');
    },
  },
  {
    id: 'pull/blob/get',
    area,
    title: 'GET of a pushed blob returns exactly the pushed bytes.',
    spec: SPEC.pullBlobs,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(4096);
      const d = await pushBlob(ctx.http, repo, data);
      const res = await ctx.http.request('GET', `/v2/${repo}/blobs/${d.digest}`);
      status(t, res, 200, 'GET blob');
      t.equal(res.length, data.length, 'body length equals the blob size');
      t.equal(res.digest, d.digest, 'body hashes to the requested digest');
      header(t, res, 'docker-content-digest', d.digest, 'GET blob', 'SHOULD');
    },
  },
  {
    id: 'pull/blob/range-206',
    area,
    title: 'GET of a blob with Range: bytes=a-b answers 206 with Content-Range and exactly those bytes.',
    spec: SPEC.range,
    level: 'SHOULD',
    feature: 'range',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(1000);
      const d = await pushBlob(ctx.http, repo, data);
      const res = await ctx.http.request('GET', `/v2/${repo}/blobs/${d.digest}`, { headers: { range: 'bytes=100-199' } });
      // A server MAY ignore Range (RFC 9110 §14.2): the whole blob with 200 means "no Range support", not a failure.
      if (res.status === 200 && res.digest === d.digest) {
        ctx.features.record('range', false, 'a ranged GET answered 200 with the whole blob', 'check');
        return ctx.unsupported('Range requests are not supported (ranged GET answered 200 with the whole blob)');
      }
      ctx.features.record('range', res.status === 206, `ranged GET → HTTP ${res.status}`, 'check');
      status(t, res, 206, 'ranged GET');
      header(t, res, 'content-range', 'bytes 100-199/1000', 'ranged GET');
      t.ok(res.body.equals(data.subarray(100, 200)), 'body is bytes 100..199 of the blob', { got: `${res.length} bytes` });
    },
  },
  {
    id: 'pull/blob/range-416',
    area,
    title: 'GET of a blob with a Range beyond its end answers 416.',
    spec: SPEC.range,
    level: 'SHOULD',
    feature: 'range',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(100);
      const d = await pushBlob(ctx.http, repo, data);
      const ok = await ctx.http.request('GET', `/v2/${repo}/blobs/${d.digest}`, { headers: { range: 'bytes=0-9' } });
      if (ok.status === 200) return ctx.unsupported('Range requests are not supported (ranged GET answered 200 with the whole blob)');
      const res = await ctx.http.request('GET', `/v2/${repo}/blobs/${d.digest}`, { headers: { range: 'bytes=500-600' } });
      status(t, res, 416, 'unsatisfiable ranged GET');
      header(t, res, 'content-range', 'bytes */100', 'unsatisfiable ranged GET (RFC 9110 §15.5.17)', 'SHOULD');
    },
  },
  {
    id: 'push/monolithic/single-post',
    area,
    title: 'POST /blobs/uploads/?digest= with the whole body completes the upload (201), or falls back to a 202 session.',
    spec: SPEC.singlePost,
    level: 'SHOULD',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(512);
      const digest = sha256(data);
      const res = await ctx.http.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
        body: data,
        headers: { 'content-type': 'application/octet-stream' },
      });
      ctx.features.record('singlePost', res.status === 201, `POST ?digest= with the body → HTTP ${res.status}`, 'check');
      if (res.status === 202) {
        ctx.note('registry does not support single POST; it opened a session (allowed)');
        const loc = locationOf(res, 'POST ?digest fallback');
        const put = await ctx.http.request('PUT', withQuery(loc, 'digest', digest), { body: data, headers: { 'content-type': 'application/octet-stream' } });
        return verifyStored(t, ctx.http, repo, put, data, 'PUT after 202 fallback');
      }
      await verifyStored(t, ctx.http, repo, res, data, 'POST ?digest=');
    },
  },
  {
    id: 'push/post-put/upload',
    area,
    title: 'POST opens a session (202 + Location) and a PUT ?digest= with the body completes it (201 + Location + digest).',
    spec: SPEC.postPut,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(1500);
      const post = await ctx.http.request('POST', `/v2/${repo}/blobs/uploads/`);
      status(t, post, 202, 'POST upload');
      const loc = locationOf(post, 'POST upload');
      const put = await ctx.http.request('PUT', withQuery(loc, 'digest', sha256(data)), { body: data, headers: { 'content-type': 'application/octet-stream' } });
      await verifyStored(t, ctx.http, repo, put, data, 'PUT ?digest=');
    },
  },
  {
    id: 'push/streamed/patch-put',
    area,
    title: 'A PATCH without Content-Range (streamed, chunked encoding) then an empty PUT ?digest= completes the upload.',
    spec: SPEC.streamed,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(300_000);
      const loc = await startUpload(ctx.http, repo);
      async function* parts() {
        for (let off = 0; off < data.length; off += 65_536) yield data.subarray(off, off + 65_536);
      }
      const patch = await ctx.http.request('PATCH', loc, { body: parts(), headers: { 'content-type': 'application/octet-stream' } });
      status(t, patch, 202, 'streamed PATCH');
      t.equal(rangeEnd(patch), data.length - 1, 'PATCH reports Range 0-<size-1>', { got: patch.headers.get('range') });
      const next = locationOf(patch, 'streamed PATCH');
      const put = await ctx.http.request('PUT', withQuery(next, 'digest', sha256(data)));
      await verifyStored(t, ctx.http, repo, put, data, 'closing PUT');
    },
  },
  {
    id: 'push/chunked/in-order',
    area,
    title: 'Chunks PATCHed in order with Content-Range each answer 202 with the growing Range, and PUT completes the blob.',
    spec: SPEC.chunked,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(30_000);
      let loc = await startUpload(ctx.http, repo);
      for (const [a, b] of [[0, 10_000], [10_000, 20_000], [20_000, 30_000]] as const) {
        const res = await patchChunk(ctx.http, loc, data.subarray(a, b), a);
        status(t, res, 202, `PATCH ${a}-${b - 1}`);
        t.equal(rangeEnd(res), b - 1, `Range after PATCH ${a}-${b - 1} is 0-${b - 1}`, { got: res.headers.get('range') });
        loc = locationOf(res, 'PATCH');
      }
      const put = await ctx.http.request('PUT', withQuery(loc, 'digest', sha256(data)));
      await verifyStored(t, ctx.http, repo, put, data, 'closing PUT');
    },
  },
  {
    id: 'push/chunked/out-of-order-416',
    area,
    title: 'A chunk whose Content-Range does not start where the last one ended answers 416, and the session stays usable.',
    spec: SPEC.chunked,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(20_000);
      let loc = await startUpload(ctx.http, repo);
      const first = expectStatus(await patchChunk(ctx.http, loc, data.subarray(0, 10_000), 0), 202, 'first PATCH');
      loc = locationOf(first, 'first PATCH');
      const bad = await patchChunk(ctx.http, loc, data.subarray(15_000, 20_000), 15_000);
      status(t, bad, 416, 'PATCH starting at 15000 after 0-9999');
      const st = await ctx.http.request('GET', loc);
      status(t, st, 204, 'upload status after the refused chunk');
      t.equal(rangeEnd(st), 9_999, 'session still holds exactly 0-9999', { got: st.headers.get('range') });
      const statusLoc = st.headers.get('location') ? locationOf(st, 'status') : loc;
      const good = await patchChunk(ctx.http, statusLoc, data.subarray(10_000), 10_000);
      status(t, good, 202, 'the correct next chunk is accepted');
      const put = await ctx.http.request('PUT', withQuery(locationOf(good, 'PATCH'), 'digest', sha256(data)));
      await verifyStored(t, ctx.http, repo, put, data, 'closing PUT');
    },
  },
  {
    id: 'push/chunked/resume-status',
    area,
    title: 'GET on an upload session answers 204 with Range and Location, and the upload resumes from there.',
    spec: SPEC.chunked,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(12_345);
      let loc = await startUpload(ctx.http, repo);
      const first = expectStatus(await patchChunk(ctx.http, loc, data.subarray(0, 5_000), 0), 202, 'first PATCH');
      loc = locationOf(first, 'first PATCH');
      const st = await ctx.http.request('GET', loc);
      status(t, st, 204, 'GET upload status');
      header(t, st, 'range', /^(bytes=)?0-4999$/, 'GET upload status');
      hasHeader(t, st, 'location', 'GET upload status');
      const resumeAt = (rangeEnd(st) ?? -1) + 1;
      const resumeLoc = st.headers.get('location') ? locationOf(st, 'status') : loc;
      const rest = await patchChunk(ctx.http, resumeLoc, data.subarray(resumeAt), resumeAt);
      status(t, rest, 202, `PATCH resuming at ${resumeAt}`);
      const put = await ctx.http.request('PUT', withQuery(locationOf(rest, 'PATCH'), 'digest', sha256(data)));
      await verifyStored(t, ctx.http, repo, put, data, 'closing PUT');
    },
  },
  {
    id: 'push/upload/cancel',
    area,
    title: 'DELETE on an upload session cancels it (204) and the session is then unknown (404 BLOB_UPLOAD_UNKNOWN).',
    spec: `${SPEC.chunked}; ${SPEC.errors}`,
    level: 'SHOULD',
    async run(t, ctx) {
      const repo = ctx.repo('');
      let loc = await startUpload(ctx.http, repo);
      const first = expectStatus(await patchChunk(ctx.http, loc, uniqueBlob(100), 0), 202, 'PATCH');
      loc = locationOf(first, 'PATCH');
      const del = await ctx.http.request('DELETE', loc);
      status(t, del, 204, 'DELETE upload session');
      const st = await ctx.http.request('GET', loc);
      ociError(t, st, 404, 'BLOB_UPLOAD_UNKNOWN', 'status of cancelled session');
    },
  },
  {
    id: 'push/blob/sha512',
    area,
    title: 'A blob pushed with a sha512 digest is stored and served under that digest.',
    spec: `${SPEC.postPut}; OCI image-spec §Digests (sha512 registered)`,
    level: 'MAY',
    feature: 'sha512',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const data = uniqueBlob(600);
      const digest = sha512(data);
      const loc = await startUpload(ctx.http, repo);
      const put = await ctx.http.request('PUT', withQuery(loc, 'digest', digest), { body: data, headers: { 'content-type': 'application/octet-stream' } });
      status(t, put, 201, 'PUT ?digest=sha512:…');
      // "the canonical digest … MAY differ from the provided digest": sha512 or the blob's sha256.
      const canonical = put.headers.get('docker-content-digest');
      t.ok(canonical === digest || canonical === sha256(data), 'PUT: Docker-Content-Digest is the sha512 digest or the canonical sha256', { got: canonical });
      const got = await ctx.http.request('GET', `/v2/${repo}/blobs/${digest}`);
      status(t, got, 200, 'GET by sha512 digest');
      t.ok(got.body.equals(data), 'bytes round-trip');
    },
  },
  {
    id: 'push/mount/from',
    area,
    title: 'POST ?mount=<digest>&from=<repo> mounts an existing blob (201 + Location + digest) without re-upload.',
    spec: SPEC.mount,
    level: 'MUST',
    async run(t, ctx) {
      const src = ctx.crossRepo('src');
      const dst = ctx.repo('dst');
      const data = uniqueBlob(2000);
      const d = await pushBlob(ctx.http, src, data);
      const res = await ctx.http.request('POST', `/v2/${dst}/blobs/uploads/?mount=${d.digest}&from=${src}`, {
        extraScopes: [`repository:${src}:pull`],
      });
      status(t, res, 201, 'mount');
      hasHeader(t, res, 'location', 'mount');
      header(t, res, 'docker-content-digest', d.digest, 'mount');
      const head = await ctx.http.request('HEAD', `/v2/${dst}/blobs/${d.digest}`);
      status(t, head, 200, 'blob present in target repository');
    },
  },
  {
    id: 'push/mount/unknown-falls-back',
    area,
    title: 'Mounting a blob the source does not have falls back to a normal upload session (202 + Location).',
    spec: SPEC.mount,
    level: 'SHOULD',
    async run(t, ctx) {
      const src = ctx.crossRepo('src');
      const dst = ctx.repo('dst');
      await pushBlob(ctx.http, src, uniqueBlob(10));
      const data = uniqueBlob(300);
      const res = await ctx.http.request('POST', `/v2/${dst}/blobs/uploads/?mount=${sha256(data)}&from=${src}`, {
        extraScopes: [`repository:${src}:pull`],
      });
      status(t, res, 202, 'mount of unknown blob');
      const loc = locationOf(res, 'mount fallback');
      const put = await ctx.http.request('PUT', withQuery(loc, 'digest', sha256(data)), { body: data, headers: { 'content-type': 'application/octet-stream' } });
      await verifyStored(t, ctx.http, dst, put, data, 'PUT into fallback session');
    },
  },
  {
    id: 'push/mount/without-from',
    area,
    title: 'POST ?mount=<digest> without from mounts a blob the registry already holds (201).',
    spec: `${SPEC.mount} ("MAY" automatic content discovery)`,
    level: 'MAY',
    feature: 'mountWithoutFrom',
    async run(t, ctx) {
      const src = ctx.crossRepo('src');
      const dst = ctx.repo('dst');
      const d = await pushBlob(ctx.http, src, uniqueBlob(900));
      const res = await ctx.http.request('POST', `/v2/${dst}/blobs/uploads/?mount=${d.digest}`);
      status(t, res, 201, 'mount without from');
      header(t, res, 'docker-content-digest', d.digest, 'mount without from');
      const head = await ctx.http.request('HEAD', `/v2/${dst}/blobs/${d.digest}`);
      status(t, head, 200, 'blob present in target repository');
    },
  },
  ...manifestChecks(),
  {
    id: 'push/manifest/by-digest',
    area,
    title: 'A manifest PUT by its digest is stored (201) and GET by digest returns identical bytes.',
    spec: `${SPEC.pushManifests}; ${SPEC.pullManifests}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'seed');
      const cfg = await pushBlob(ctx.http, repo, uniqueConfig());
      const m = ociManifest({ config: { ...cfg, mediaType: MT.ociConfig }, layers: img.layers });
      const res = await pushManifest(ctx.http, repo, sha256(m), m, MT.ociManifest);
      status(t, res, 201, 'PUT manifest by digest');
      header(t, res, 'docker-content-digest', sha256(m), 'PUT manifest by digest');
      const got = await ctx.http.request('GET', `/v2/${repo}/manifests/${sha256(m)}`, { headers: { accept: MT.ociManifest } });
      status(t, got, 200, 'GET by digest');
      t.ok(got.body.equals(m), 'bytes are identical');
    },
  },
  {
    id: 'push/manifest/digest-mismatch',
    area,
    title: 'PUT of a manifest under a digest that does not match its bytes answers 400 DIGEST_INVALID.',
    spec: `${SPEC.pushManifests}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'seed');
      const res = await pushManifest(ctx.http, repo, sha256(uniqueBlob()), img.manifest, MT.ociManifest);
      ociError(t, res, 400, ['DIGEST_INVALID', 'MANIFEST_INVALID'], 'PUT manifest under wrong digest');
    },
  },
  {
    id: 'push/manifest/size-limit-413',
    area,
    title: 'A manifest over the registry\'s size limit (tried: 4 MiB + 16 B) is refused with 413 and stores nothing.',
    spec: SPEC.manifestSize,
    level: 'SHOULD',
    feature: 'manifestSizeLimit',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'seed');
      const big = ociManifest({
        config: img.config,
        layers: img.layers,
        annotations: { padding: 'x'.repeat(4 * 1024 * 1024 + 16) },
      });
      const res = await pushManifest(ctx.http, repo, 'too-big', big, MT.ociManifest);
      // "SHOULD enforce some limit"; 4 MB must fit, so a registry accepting a little more has no limit here.
      if (res.status === 201) {
        ctx.features.record('manifestSizeLimit', false, 'a 4 MiB+16 B manifest was accepted', 'check');
        return ctx.unsupported('no manifest size limit at 4 MiB (a 4 MiB+16 B manifest was stored)');
      }
      ctx.features.record('manifestSizeLimit', true, `a 4 MiB+16 B manifest → HTTP ${res.status}`, 'check');
      status(t, res, 413, 'PUT 4 MiB+ manifest');
      const after = await ctx.http.request('HEAD', `/v2/${repo}/manifests/too-big`);
      status(t, after, 404, 'the refused tag does not exist');
    },
  },
];

interface ManifestCase {
  id: string;
  title: string;
  spec: string;
  build(http: HttpClient, repo: string): Promise<{ body: Buffer; mediaType: string; children?: Descriptor[] }>;
}

/** A platform child of an index: pushed by digest, the way buildx does. */
async function platformImage(http: HttpClient, repo: string, docker: boolean): Promise<Descriptor> {
  return (await pushImage(http, repo, null, { docker })).descriptor;
}

/** A function, not a const, so the check list above can use it before this point in the module. */
function manifestCases(): ManifestCase[] {
  return [
  {
    id: 'push/manifest/oci-image',
    title: 'An OCI image manifest round-trips by tag and digest with its media type and digest header.',
    spec: SPEC.pushManifests,
    async build(http, repo) {
      const cfg = await pushBlob(http, repo, uniqueConfig());
      const layer = await pushBlob(http, repo, uniqueBlob(256));
      const body = ociManifest({ config: { ...cfg, mediaType: MT.ociConfig }, layers: [{ ...layer, mediaType: MT.ociLayer }] });
      return { body, mediaType: MT.ociManifest };
    },
  },
  {
    id: 'push/manifest/oci-index',
    title: 'An OCI image index of two platform manifests round-trips by tag and digest.',
    spec: `${SPEC.pushManifests}; OCI image-spec §Image Index`,
    async build(http, repo) {
      const a = await platformImage(http, repo, false);
      const b = await platformImage(http, repo, false);
      const body = json({
        schemaVersion: 2,
        mediaType: MT.ociIndex,
        manifests: [
          { ...a, platform: { architecture: 'amd64', os: 'linux' } },
          { ...b, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        ],
      });
      return { body, mediaType: MT.ociIndex, children: [a, b] };
    },
  },
  {
    id: 'push/manifest/docker-schema2',
    title: 'A Docker schema 2 image manifest round-trips by tag and digest.',
    spec: `${SPEC.pushManifests}; Docker Image Manifest V2 Schema 2`,
    async build(http, repo) {
      const cfg = await pushBlob(http, repo, uniqueConfig());
      const layer = await pushBlob(http, repo, uniqueBlob(256));
      const body = json({
        schemaVersion: 2,
        mediaType: MT.dockerManifest,
        config: { ...cfg, mediaType: MT.dockerConfig },
        layers: [{ ...layer, mediaType: MT.dockerLayer }],
      });
      return { body, mediaType: MT.dockerManifest };
    },
  },
  {
    id: 'push/manifest/docker-manifest-list',
    title: 'A Docker manifest list of two schema 2 manifests round-trips by tag and digest.',
    spec: `${SPEC.pushManifests}; Docker Image Manifest V2 Schema 2 §Manifest List`,
    async build(http, repo) {
      const a = await platformImage(http, repo, true);
      const b = await platformImage(http, repo, true);
      const body = json({
        schemaVersion: 2,
        mediaType: MT.dockerList,
        manifests: [
          { ...a, platform: { architecture: 'amd64', os: 'linux' } },
          { ...b, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
        ],
      });
      return { body, mediaType: MT.dockerList, children: [a, b] };
    },
  },
  {
    id: 'push/manifest/artifact',
    title: 'An OCI artifact manifest (artifactType, empty config, custom layer type) round-trips unchanged.',
    spec: `${SPEC.pushManifests}; OCI image-spec v1.1 §Guidelines for Artifact Usage`,
    async build(http, repo) {
      const empty = await pushBlob(http, repo, EMPTY_JSON);
      const payload = await pushBlob(http, repo, Buffer.from(JSON.stringify({ sbom: 'conformance', n: Math.random() })));
      const body = ociManifest({
        artifactType: 'application/vnd.example.sbom.v1+json',
        config: { ...empty, mediaType: MT.ociEmpty },
        layers: [{ ...payload, mediaType: 'application/vnd.example.sbom.v1+json' }],
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      });
      return { body, mediaType: MT.ociManifest };
    },
  },
];
}

function manifestChecks(): CheckDef[] {
  return manifestCases().map((c) => ({
    id: c.id,
    area,
    title: c.title,
    spec: `${c.spec}; ${SPEC.pullManifests}`,
    level: 'MUST' as const,
    async run(t, ctx) {
      const repo = ctx.repo('');
      const { body, mediaType } = await c.build(ctx.http, repo);
      const digest = sha256(body);
      const put = await pushManifest(ctx.http, repo, 'v1', body, mediaType);
      status(t, put, 201, 'PUT manifest by tag');
      hasHeader(t, put, 'location', 'PUT manifest');
      header(t, put, 'docker-content-digest', digest, 'PUT manifest');
      const accept = [MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList].join(', ');
      for (const ref of ['v1', digest]) {
        const got = await ctx.http.request('GET', `/v2/${repo}/manifests/${ref}`, { headers: { accept } });
        status(t, got, 200, `GET manifest ${ref === digest ? 'by digest' : 'by tag'}`);
        t.ok(got.body.equals(body), `GET ${ref === digest ? 'by digest' : 'by tag'} returns the exact pushed bytes`, { got: got.text().slice(0, 200) });
        header(t, got, 'content-type', mediaType, `GET ${ref === digest ? 'by digest' : 'by tag'}`);
        header(t, got, 'docker-content-digest', digest, `GET ${ref === digest ? 'by digest' : 'by tag'}`, 'SHOULD');
      }
      const head = await ctx.http.request('HEAD', `/v2/${repo}/manifests/v1`, { headers: { accept } });
      status(t, head, 200, 'HEAD manifest');
      header(t, head, 'content-length', String(body.length), 'HEAD manifest');
      header(t, head, 'docker-content-digest', digest, 'HEAD manifest');
    },
  }));
}
