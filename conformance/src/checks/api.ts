// Area 1: the /v2/ base endpoint and the error document on every common error path.
import type { CheckDef } from '../harness/types.js';
import { sha256, uniqueBlob } from '../oci/digest.js';
import { MT } from '../oci/media.js';
import { json, pushImage, pushManifest, startUpload } from '../oci/push.js';
import { header, ociError, status } from './assert.js';
import { SPEC } from './spec.js';

const area = 'api' as const;

export const apiChecks: CheckDef[] = [
  {
    id: 'api/base/v2-ok',
    area,
    title: 'GET /v2/ answers 200 to an authorised client.',
    spec: SPEC.base,
    level: 'MUST',
    async run(t, ctx) {
      const res = await ctx.http.request('GET', '/v2/');
      status(t, res, 200, 'GET /v2/');
    },
  },
  {
    id: 'api/base/version-header',
    area,
    title: 'GET /v2/ carries Docker-Distribution-API-Version: registry/2.0.',
    spec: SPEC.apiVersion,
    level: 'SHOULD',
    async run(t, ctx) {
      const res = await ctx.http.request('GET', '/v2/');
      header(t, res, 'docker-distribution-api-version', 'registry/2.0', 'GET /v2/');
    },
  },
  {
    id: 'api/errors/blob-unknown',
    area,
    title: 'GET of a blob that does not exist answers 404 BLOB_UNKNOWN.',
    spec: `${SPEC.pullBlobs}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'base');
      const res = await ctx.http.request('GET', `/v2/${repo}/blobs/${sha256(uniqueBlob())}`);
      ociError(t, res, 404, 'BLOB_UNKNOWN', 'GET unknown blob');
    },
  },
  {
    id: 'api/errors/blob-unknown-head',
    area,
    title: 'HEAD of a blob that does not exist answers 404 with no body.',
    spec: SPEC.pullBlobs,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'base');
      const res = await ctx.http.headBody(`/v2/${repo}/blobs/${sha256(uniqueBlob())}`);
      t.equal(res.status, 404, 'HEAD unknown blob: HTTP 404');
      // Read from the raw socket: fetch drops whatever follows a HEAD response's headers.
      t.equal(res.bodyBytes, 0, 'HEAD response has no body (RFC 9110 §9.3.2)');
    },
  },
  {
    id: 'api/errors/manifest-unknown',
    area,
    title: 'GET of a tag that does not exist answers 404 MANIFEST_UNKNOWN.',
    spec: `${SPEC.pullManifests}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'base');
      const res = await ctx.http.request('GET', `/v2/${repo}/manifests/no-such-tag`, { headers: { accept: MT.ociManifest } });
      ociError(t, res, 404, 'MANIFEST_UNKNOWN', 'GET unknown tag');
      const res2 = await ctx.http.request('GET', `/v2/${repo}/manifests/${sha256(uniqueBlob())}`, { headers: { accept: MT.ociManifest } });
      ociError(t, res2, 404, 'MANIFEST_UNKNOWN', 'GET unknown manifest digest');
    },
  },
  {
    id: 'api/errors/name-unknown',
    area,
    title: 'Listing tags of a repository that was never pushed answers 404 NAME_UNKNOWN.',
    spec: `${SPEC.tags}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const res = await ctx.http.request('GET', `/v2/${ctx.repo('never-pushed')}/tags/list`);
      ociError(t, res, 404, 'NAME_UNKNOWN', 'GET tags of unknown repository');
    },
  },
  {
    id: 'api/errors/name-invalid',
    area,
    title: 'Starting an upload in a repository name with upper-case letters is refused (4xx), with 400 NAME_INVALID.',
    spec: `${SPEC.errors} (repository name grammar)`,
    level: 'SHOULD',
    async run(t, ctx) {
      const res = await ctx.http.request('POST', `/v2/${ctx.config.namespace}/Invalid_Name/blobs/uploads/`);
      // Refusing the name is a MUST (name grammar); answering 400 NAME_INVALID rather than e.g. a plain 404 a SHOULD.
      t.ok(res.status >= 400 && res.status < 500, 'upload to an invalid name is refused with a 4xx', { got: res.status, level: 'MUST' });
      ociError(t, res, 400, 'NAME_INVALID', 'POST upload to invalid name', 'SHOULD');
    },
  },
  {
    id: 'api/errors/blob-upload-unknown',
    area,
    title: 'Status of an upload session that does not exist answers 404 BLOB_UPLOAD_UNKNOWN.',
    spec: `${SPEC.chunked}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      await pushImage(ctx.http, repo, 'base');
      const res = await ctx.http.request('GET', `/v2/${repo}/blobs/uploads/6d1e7e1c-0000-4000-8000-000000000000`);
      // 404 is a MUST (end-13); the spec's error table names BLOB_UPLOAD_UNKNOWN, which is as strong as a SHOULD.
      ociError(t, res, 404, 'BLOB_UPLOAD_UNKNOWN', 'GET unknown upload', 'SHOULD');
    },
  },
  {
    id: 'api/errors/digest-invalid',
    area,
    title: 'Completing an upload with a digest that does not match the bytes answers 400 DIGEST_INVALID.',
    spec: `${SPEC.postPut}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const loc = await startUpload(ctx.http, repo);
      const u = new URL(loc);
      u.searchParams.set('digest', sha256(uniqueBlob()));
      const res = await ctx.http.request('PUT', u.toString(), { body: uniqueBlob(), headers: { 'content-type': 'application/octet-stream' } });
      ociError(t, res, 400, 'DIGEST_INVALID', 'PUT with wrong digest');
    },
  },
  {
    id: 'api/errors/manifest-invalid',
    area,
    title: 'PUT of a manifest that is not valid JSON answers 400 MANIFEST_INVALID.',
    spec: `${SPEC.pushManifests}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const res = await pushManifest(ctx.http, repo, 'broken', Buffer.from('{"schemaVersion": 2, "config": '), MT.ociManifest);
      ociError(t, res, 400, ['MANIFEST_INVALID', 'MANIFEST_UNVERIFIED'], 'PUT malformed manifest');
    },
  },
  {
    id: 'api/errors/manifest-blob-unknown',
    area,
    title: 'PUT of a manifest that references a missing blob is refused (4xx, MANIFEST_BLOB_UNKNOWN) and creates no tag.',
    spec: `${SPEC.pushManifests}; ${SPEC.errors}`,
    level: 'MUST',
    async run(t, ctx) {
      const repo = ctx.repo('');
      const img = await pushImage(ctx.http, repo, 'base');
      const missing = uniqueBlob(100);
      const manifest = json({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: img.config,
        layers: [{ mediaType: MT.ociLayer, digest: sha256(missing), size: missing.length }],
      });
      const res = await pushManifest(ctx.http, repo, 'dangling', manifest, MT.ociManifest);
      // A registry MAY refuse such a manifest ("MAY reject … if any of the referenced blobs do not exist"); one that
      // accepts it is within the spec. One that refuses MUST answer MANIFEST_BLOB_UNKNOWN (§Pushing Manifests).
      if (res.status === 201) {
        return ctx.unsupported('the registry accepts a manifest whose layer blob is missing (allowed: the spec says MAY reject)');
      }
      ociError(t, res, 400, 'MANIFEST_BLOB_UNKNOWN', 'PUT manifest with missing layer');
      const after = await ctx.http.request('HEAD', `/v2/${repo}/manifests/dangling`);
      status(t, after, 404, 'the refused tag does not exist afterwards');
    },
  },
];
