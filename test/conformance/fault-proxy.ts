// A fault-injecting HTTP proxy for proof (c): it sits in front of a real registry and plants exactly one defect,
// so a test can assert that the conformance check meant to catch that defect fails.
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
}

export interface ProxiedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Present only when the defect asked for the body (bufferBody). */
  body?: Buffer;
}

export interface Defect {
  id: string;
  description: string;
  /** Check ids that must fail while this defect is planted. */
  breaks: string[];
  /** Edit the request before it is forwarded, or answer it without forwarding. */
  request?(req: ProxiedRequest): ProxiedResponse | void;
  /** Whether the response body is needed by `response` (otherwise it streams through untouched). */
  bufferBody?(req: ProxiedRequest, status: number): boolean;
  /** Edit the upstream response. */
  response?(req: ProxiedRequest, res: ProxiedResponse): void;
  /** Forget what a stateful defect remembered (called each time it is planted). */
  reset?(): void;
  /** Observe the request body as it is forwarded (it still streams upstream untouched). */
  requestBody?(req: ProxiedRequest, body: Buffer): void;
  /** For HEAD on blobs: write the response by hand on the socket, these bytes after the headers. */
  rawHeadBody?: Buffer;
}

const isBlobGet = (r: ProxiedRequest) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url.pathname);
const isUploadPut = (r: ProxiedRequest) => r.method === 'PUT' && /\/blobs\/uploads\//.test(r.url.pathname);
const isUploadPost = (r: ProxiedRequest) => r.method === 'POST' && /\/blobs\/uploads\/?$/.test(r.url.pathname);
const isManifest = (r: ProxiedRequest) => /\/manifests\//.test(r.url.pathname);
const fakeDigest = () => 'sha256:' + randomBytes(32).toString('hex');

function editJson(res: ProxiedResponse, f: (j: any) => unknown): void {
  if (!res.body) return;
  try {
    const j = JSON.parse(res.body.toString('utf8'));
    res.body = Buffer.from(JSON.stringify(f(j) ?? j));
  } catch {
    /* not JSON: leave it */
  }
}

/** Rewrite the OCI error code of matching error responses: the status stays, the code is wrong. */
function errorCodeSwap(id: string, description: string, breaks: string[], match: (r: ProxiedRequest) => boolean, status: number, code: string): Defect {
  return {
    id,
    description,
    breaks,
    bufferBody: (req, s) => match(req) && s === status,
    response: (req, res) => {
      if (match(req) && res.status === status) {
        res.body = Buffer.from(JSON.stringify({ errors: [{ code, message: `planted: ${code}` }] }));
        res.headers['content-type'] = 'application/json';
      }
    },
  };
}

const isTokenEndpoint = (r: ProxiedRequest) => /token/.test(r.url.pathname) && !r.url.pathname.startsWith('/v2/');
const isTagsList = (r: ProxiedRequest) => r.url.pathname.endsWith('/tags/list');
const isReferrers = (r: ProxiedRequest) => /\/referrers\//.test(r.url.pathname);
const isBlobPath = (r: ProxiedRequest) => /\/blobs\/sha256:/.test(r.url.pathname);
/** The request that closes an upload: PUT on the session, or a single POST carrying ?digest=. */
const isUploadClose = (r: ProxiedRequest) => isUploadPut(r) || (isUploadPost(r) && r.url.searchParams.has('digest'));

/** The defects planted one at a time. Each names the check(s) that must catch it. */
export const DEFECTS: Defect[] = [
  {
    id: 'wrong-digest-header',
    description: 'blob upload completion (PUT, or a single POST ?digest=) reports a Docker-Content-Digest that is not the blob’s',
    breaks: ['push/post-put/upload', 'push/monolithic/single-post', 'push/mount/unknown-falls-back', 'shapes/parallel/same-blob', 'push/blob/sha512'],
    response: (req, res) => {
      if (isUploadClose(req) && res.status === 201) res.headers['docker-content-digest'] = fakeDigest();
    },
  },
  {
    id: 'corrupt-blob-bytes',
    description: 'blob GET flips one byte of the content',
    breaks: ['pull/blob/get'],
    bufferBody: (req, s) => isBlobGet(req) && s === 200,
    response: (req, res) => {
      if (isBlobGet(req) && res.status === 200 && res.body && res.body.length > 0) res.body[0] = res.body[0]! ^ 0xff;
    },
  },
  {
    id: 'created-as-200',
    description: 'blob upload completion answers 200 instead of 201',
    breaks: ['push/post-put/upload'],
    response: (req, res) => {
      if (isUploadPut(req) && res.status === 201) res.status = 200;
    },
  },
  {
    id: 'missing-upload-location',
    description: 'POST /blobs/uploads/ answers 202 without a Location header',
    breaks: ['push/post-put/upload'],
    response: (req, res) => {
      if (isUploadPost(req) && res.status === 202) delete res.headers.location;
    },
  },
  {
    id: 'catalog-ignores-n',
    description: '_catalog ignores the n parameter',
    breaks: ['discovery/catalog/paging'],
    request: (req) => {
      if (req.url.pathname === '/v2/_catalog') req.url.searchParams.delete('n');
    },
  },
  {
    id: 'tags-ignore-n',
    description: 'tags/list ignores the n parameter',
    breaks: ['discovery/tags/paging-n'],
    request: (req) => {
      if (req.url.pathname.endsWith('/tags/list')) req.url.searchParams.delete('n');
    },
  },
  {
    id: 'noop-manifest-delete',
    description: 'manifest DELETE (by digest or tag) answers 202 but deletes nothing',
    breaks: ['content/delete/manifest-by-digest', 'content/delete/tag'],
    request: (req) => (req.method === 'DELETE' && isManifest(req) ? { status: 202, headers: {} } : undefined),
  },
  {
    id: 'noop-blob-delete',
    description: 'blob DELETE answers 202 but deletes nothing',
    breaks: ['content/delete/blob'],
    request: (req) => (req.method === 'DELETE' && /\/blobs\/sha256:/.test(req.url.pathname) ? { status: 202, headers: {} } : undefined),
  },
  {
    id: 'range-wrong-bytes',
    description: 'blob GET answers a Range request with bytes one position off (206, Content-Range of the wrong span)',
    breaks: ['pull/blob/range-206'],
    request: (req) => {
      const m = isBlobGet(req) ? /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? '')) : null;
      if (m && m[1] !== '0') req.headers.range = `bytes=${Number(m[1]) + 1}-${Number(m[2]) + 1}`;
    },
  },
  {
    id: 'no-api-version-header',
    description: '/v2/ omits Docker-Distribution-API-Version',
    breaks: ['api/base/version-header'],
    response: (req, res) => {
      if (req.url.pathname === '/v2/') delete res.headers['docker-distribution-api-version'];
    },
  },
  {
    id: 'error-body-stripped',
    description: '404 on a blob carries no OCI error document',
    breaks: ['api/errors/blob-unknown'],
    bufferBody: (req, s) => isBlobGet(req) && s === 404,
    response: (req, res) => {
      if (isBlobGet(req) && res.status === 404) {
        res.body = Buffer.from('not found');
        res.headers['content-type'] = 'text/plain';
      }
    },
  },
  {
    id: 'manifest-content-type-json',
    description: 'manifest GET answers Content-Type: application/json instead of the manifest media type',
    breaks: ['push/manifest/oci-image'],
    response: (req, res) => {
      if (req.method === 'GET' && isManifest(req) && res.status === 200) res.headers['content-type'] = 'application/json';
    },
  },
  {
    id: 'manifest-reformatted',
    description: 'manifest GET re-serialises the JSON (bytes, so digests, change)',
    breaks: ['push/manifest/oci-index'],
    bufferBody: (req, s) => req.method === 'GET' && isManifest(req) && s === 200,
    response: (req, res) => {
      if (req.method === 'GET' && isManifest(req) && res.status === 200 && res.body) {
        res.body = Buffer.from(JSON.stringify(JSON.parse(res.body.toString('utf8')), null, 2));
      }
    },
  },
  {
    id: 'missing-blob-wrong-code',
    description: 'a manifest referencing a missing blob is refused with MANIFEST_INVALID instead of MANIFEST_BLOB_UNKNOWN',
    breaks: ['api/errors/manifest-blob-unknown'],
    bufferBody: (req, s) => req.method === 'PUT' && isManifest(req) && s === 400,
    response: (req, res) => {
      if (req.method === 'PUT' && isManifest(req) && res.status === 400) {
        res.body = Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] }));
      }
    },
  },
  {
    id: 'manifest-get-no-digest-header',
    description: 'manifest GET omits Docker-Content-Digest',
    breaks: ['push/manifest/oci-image', 'push/manifest/docker-schema2'],
    response: (req, res) => {
      if (req.method === 'GET' && isManifest(req) && res.status === 200) delete res.headers['docker-content-digest'];
    },
  },
  {
    id: 'head-with-body',
    description: 'blob HEAD responses carry a body after their headers (read from the socket; fetch would hide it)',
    breaks: ['pull/blob/head', 'api/errors/blob-unknown-head'],
    rawHeadBody: Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN","message":"a body on HEAD"}]}'),
  },
  {
    id: 'digest-mismatch-accepted',
    description: 'a blob whose bytes do not match ?digest= is reported as created',
    breaks: ['api/errors/digest-invalid'],
    bufferBody: (req, s) => isUploadPut(req) && s === 400,
    response: (req, res) => {
      if (isUploadPut(req) && res.status === 400) {
        res.status = 201;
        res.body = Buffer.alloc(0);
      }
    },
  },
  {
    id: 'mount-ignored',
    description: 'cross-repository mount is ignored: POST ?mount=&from= always opens an upload',
    breaks: ['push/mount/from'],
    request: (req) => {
      if (isUploadPost(req)) {
        req.url.searchParams.delete('mount');
        req.url.searchParams.delete('from');
      }
    },
  },
  {
    id: 'upload-status-off-by-one',
    description: 'upload status reports Range one byte longer than received',
    breaks: ['push/chunked/resume-status'],
    response: (req, res) => {
      const m = /^0-(\d+)$/.exec(String(res.headers.range ?? ''));
      if (req.method === 'GET' && /\/blobs\/uploads\//.test(req.url.pathname) && m) res.headers.range = `0-${Number(m[1]) + 1}`;
    },
  },
  {
    id: 'noop-upload-cancel',
    description: 'upload DELETE answers 204 but the session lives on',
    breaks: ['push/upload/cancel'],
    request: (req) => (req.method === 'DELETE' && /\/blobs\/uploads\//.test(req.url.pathname) ? { status: 204, headers: {} } : undefined),
  },
  {
    id: 'head-without-length',
    description: 'blob HEAD omits Content-Length',
    breaks: ['pull/blob/head', 'shapes/large-layer/streamed'],
    response: (req, res) => {
      if (req.method === 'HEAD' && /\/blobs\/sha256:/.test(req.url.pathname)) {
        delete res.headers['content-length'];
        res.headers['transfer-encoding'] = 'chunked';
      }
    },
  },
  {
    id: 'catalog-link-dropped',
    description: '_catalog pages carry no Link header',
    breaks: ['discovery/catalog/paging'],
    response: (req, res) => {
      if (req.url.pathname === '/v2/_catalog') delete res.headers.link;
    },
  },
  {
    id: 'tags-unsorted',
    description: 'tags/list returns tags in reverse order',
    breaks: ['discovery/tags/list-sorted'],
    bufferBody: (req, s) => req.url.pathname.endsWith('/tags/list') && s === 200,
    response: (req, res) => {
      if (req.url.pathname.endsWith('/tags/list')) editJson(res, (j) => ({ ...j, tags: [...(j.tags ?? [])].reverse() }));
    },
  },
  {
    id: 'referrers-filter-ignored',
    description: 'referrers ignores artifactType (and does not say so)',
    breaks: ['discovery/referrers/artifact-type-filter'],
    request: (req) => {
      if (/\/referrers\//.test(req.url.pathname)) req.url.searchParams.delete('artifactType');
    },
  },
  {
    id: 'chunk-range-ignored',
    description: 'PATCH Content-Range is ignored, so out-of-order chunks are appended',
    breaks: ['push/chunked/out-of-order-416'],
    request: (req) => {
      if (req.method === 'PATCH') delete req.headers['content-range'];
    },
  },
  // ---- /v2/ API: status codes, error codes, headers, bodies ----
  {
    id: 'v2-base-404',
    description: 'GET /v2/ answers 404 to an authorised client (as if the API were absent)',
    breaks: ['api/base/v2-ok'],
    response: (req, res) => {
      if (req.method === 'GET' && req.url.pathname === '/v2/' && res.status === 200) res.status = 404;
    },
  },
  errorCodeSwap('manifest-unknown-wrong-code', 'GET of an unknown manifest answers 404 with NAME_UNKNOWN instead of MANIFEST_UNKNOWN',
    ['api/errors/manifest-unknown'], (r) => r.method === 'GET' && isManifest(r), 404, 'NAME_UNKNOWN'),
  errorCodeSwap('name-unknown-wrong-code', 'tags/list of a never-pushed repository answers 404 with MANIFEST_UNKNOWN instead of NAME_UNKNOWN',
    ['api/errors/name-unknown'], isTagsList, 404, 'MANIFEST_UNKNOWN'),
  errorCodeSwap('name-invalid-wrong-code', 'an upload to an invalid name is refused with 400 but the code is BLOB_UPLOAD_INVALID, not NAME_INVALID',
    ['api/errors/name-invalid'], isUploadPost, 400, 'BLOB_UPLOAD_INVALID'),
  errorCodeSwap('upload-unknown-wrong-code', 'status of an unknown (or cancelled) upload answers 404 with BLOB_UNKNOWN instead of BLOB_UPLOAD_UNKNOWN',
    ['api/errors/blob-upload-unknown', 'push/upload/cancel'], (r) => r.method === 'GET' && /\/blobs\/uploads\/./.test(r.url.pathname), 404, 'BLOB_UNKNOWN'),
  errorCodeSwap('manifest-put-400-wrong-code', 'a refused manifest PUT (malformed, or digest mismatch) carries the code UNSUPPORTED',
    ['api/errors/manifest-invalid', 'push/manifest/digest-mismatch'], (r) => r.method === 'PUT' && isManifest(r), 400, 'UNSUPPORTED'),
  errorCodeSwap('delete-unknown-manifest-wrong-code', 'DELETE of an unknown manifest answers 404 with BLOB_UNKNOWN',
    ['content/delete/unknown-manifest'], (r) => r.method === 'DELETE' && isManifest(r), 404, 'BLOB_UNKNOWN'),
  errorCodeSwap('delete-unknown-blob-wrong-code', 'DELETE of an unknown blob answers 404 with MANIFEST_UNKNOWN',
    ['content/delete/unknown-blob'], (r) => r.method === 'DELETE' && isBlobPath(r), 404, 'MANIFEST_UNKNOWN'),
  {
    id: 'range-416-as-200',
    description: 'an unsatisfiable Range is answered 200 instead of 416',
    breaks: ['pull/blob/range-416'],
    response: (req, res) => {
      if (isBlobGet(req) && res.status === 416) res.status = 200;
    },
  },
  {
    id: 'patch-range-off-by-one',
    description: 'PATCH answers a Range one byte longer than the bytes received',
    breaks: ['push/streamed/patch-put', 'push/chunked/in-order'],
    response: (req, res) => {
      const m = /^(bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
      if (req.method === 'PATCH' && res.status === 202 && m) res.headers.range = `${m[1] ?? ''}0-${Number(m[2]) + 1}`;
    },
  },
  {
    id: 'mount-without-from-wrong-digest',
    description: 'a mount without from= answers 201 with a Docker-Content-Digest that is not the mounted blob’s',
    breaks: ['push/mount/without-from'],
    response: (req, res) => {
      if (isUploadPost(req) && req.url.searchParams.has('mount') && !req.url.searchParams.has('from') && res.status === 201) res.headers['docker-content-digest'] = fakeDigest();
    },
  },
  {
    id: 'mount-unknown-refused',
    description: 'a mount of a blob the source lacks is refused (404) instead of falling back to an upload session',
    breaks: ['push/mount/unknown-falls-back'],
    request: (req) =>
      isUploadPost(req) && req.url.searchParams.has('mount') && req.url.searchParams.has('from')
        ? { status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN","message":"planted"}]}') }
        : undefined,
  },
  {
    id: 'manifest-put-wrong-digest',
    description: 'manifest PUT answers 201 with a Docker-Content-Digest that is not the manifest’s',
    breaks: ['push/manifest/by-digest', 'shapes/buildx/attestation-index'],
    response: (req, res) => {
      if (req.method === 'PUT' && isManifest(req) && res.status === 201) res.headers['docker-content-digest'] = fakeDigest();
    },
  },
  {
    id: 'manifest-head-wrong-length',
    description: 'manifest HEAD reports a Content-Length one byte off',
    breaks: ['push/manifest/docker-manifest-list', 'push/manifest/artifact'],
    response: (req, res) => {
      const n = Number(res.headers['content-length']);
      if (req.method === 'HEAD' && isManifest(req) && res.status === 200 && Number.isFinite(n)) res.headers['content-length'] = String(n + 1);
    },
  },
  {
    id: 'manifest-head-by-digest-404',
    description: 'manifest HEAD by digest answers 404 (children of an index look missing)',
    breaks: ['shapes/parallel/multi-arch-push'],
    response: (req, res) => {
      if (req.method === 'HEAD' && /\/manifests\/sha256:/.test(req.url.pathname) && res.status === 200) res.status = 404;
    },
  },
  {
    id: 'oversized-manifest-400',
    description: 'an oversized manifest is refused with 400 instead of 413',
    breaks: ['push/manifest/size-limit-413'],
    response: (req, res) => {
      if (req.method === 'PUT' && isManifest(req) && res.status === 413) res.status = 400;
    },
  },
  {
    id: 'tags-last-ignored',
    description: 'tags/list ignores the last parameter (always the first page)',
    breaks: ['discovery/tags/paging-last'],
    request: (req) => {
      if (isTagsList(req) && req.url.searchParams.has('n')) req.url.searchParams.delete('last');
    },
  },
  {
    id: 'tags-link-loses-n',
    description: 'the Link rel="next" of tags/list drops n, so the next page is everything that is left',
    breaks: ['discovery/tags/follow-link'],
    response: (req, res) => {
      const link = res.headers.link;
      if (!isTagsList(req) || typeof link !== 'string') return;
      res.headers.link = link.replace(/<([^>]+)>/, (_m, u: string) => {
        const abs = /^https?:/.test(u);
        const url = new URL(u, 'http://proxy.invalid');
        url.searchParams.delete('n');
        return `<${abs ? url.origin : ''}${url.pathname}${url.search}>`;
      });
    },
  },
  {
    id: 'referrers-content-type-json',
    description: 'referrers answers Content-Type: application/json instead of the OCI index media type',
    breaks: ['discovery/referrers/list'],
    response: (req, res) => {
      if (isReferrers(req) && res.status === 200) res.headers['content-type'] = 'application/json';
    },
  },
  {
    id: 'referrers-none-phantom',
    description: 'referrers of an unreferenced manifest lists a phantom descriptor instead of []',
    breaks: ['discovery/referrers/none'],
    bufferBody: (req, s) => isReferrers(req) && s === 200,
    response: (req, res) => {
      const phantom = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fakeDigest(), size: 2, artifactType: 'application/vnd.example.phantom' };
      if (isReferrers(req)) editJson(res, (j) => (Array.isArray(j.manifests) && j.manifests.length === 0 ? { ...j, manifests: [phantom] } : j));
    },
  },
  {
    id: 'subject-header-dropped',
    description: 'a manifest PUT with a subject answers without OCI-Subject',
    breaks: ['discovery/referrers/subject-header'],
    response: (req, res) => {
      if (req.method === 'PUT' && isManifest(req)) delete res.headers['oci-subject'];
    },
  },
  {
    id: 'delete-takes-shared-layers',
    description: 'after a manifest DELETE, blobs answer 404 (as if the delete removed layers another image shares)',
    breaks: ['content/delete/shared-blob-survives'],
    ...(() => {
      let deleted = false;
      return {
        reset: () => void (deleted = false),
        request: (req: ProxiedRequest): ProxiedResponse | void => {
          if (req.method === 'DELETE' && isManifest(req)) deleted = true;
          else if (deleted && isBlobGet(req)) return { status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN","message":"planted"}]}') };
        },
      };
    })(),
  },
  // ---- auth flow ----
  {
    id: 'challenge-service-dropped',
    description: '401 challenges omit the service parameter',
    breaks: ['auth/challenge/base'],
    response: (_req, res) => {
      const h = res.headers['www-authenticate'];
      if (typeof h === 'string') res.headers['www-authenticate'] = h.replace(/,?\s*service="[^"]*"/, '');
    },
  },
  {
    id: 'token-expires-in-too-short',
    description: 'the token endpoint (GET) says expires_in: 5, below the 60 s minimum',
    breaks: ['auth/token/get'],
    bufferBody: (req, s) => req.method === 'GET' && isTokenEndpoint(req) && s === 200,
    response: (req, res) => {
      if (req.method === 'GET' && isTokenEndpoint(req)) editJson(res, (j) => ({ ...j, expires_in: 5 }));
    },
  },
  {
    id: 'post-token-emptied',
    description: 'the token endpoint answers POST with 200 and an empty JSON object (no token)',
    breaks: ['auth/token/post-basic', 'oidc/token-exchange'],
    bufferBody: (req, s) => req.method === 'POST' && isTokenEndpoint(req) && s === 200,
    response: (req, res) => {
      if (req.method === 'POST' && isTokenEndpoint(req) && res.status === 200) res.body = Buffer.from('{}');
    },
  },
  {
    id: 'token-refusal-accepted',
    description: 'the token endpoint turns its refusals (400/401: wrong password, expired access token, made-up refresh token) into 200 with a token',
    breaks: ['auth/token/bad-credentials', 'auth/token/expired', 'auth/oauth2/refresh', 'oidc/refused/forged'],
    bufferBody: (req, s) => isTokenEndpoint(req) && (s === 400 || s === 401),
    response: (req, res) => {
      if (isTokenEndpoint(req) && (res.status === 400 || res.status === 401)) {
        res.status = 200;
        res.body = Buffer.from(JSON.stringify({ token: 'planted', access_token: 'planted', expires_in: 300 }));
        res.headers['content-type'] = 'application/json';
        delete res.headers['www-authenticate'];
      }
    },
  },
  {
    id: 'token-get-emptied',
    description: 'the token endpoint answers GET with 200 and no token in the body',
    breaks: ['oidc/basic/exchange'],
    bufferBody: (req, s) => req.method === 'GET' && isTokenEndpoint(req) && s === 200,
    response: (req, res) => {
      if (req.method === 'GET' && isTokenEndpoint(req) && res.status === 200) res.body = Buffer.from('{"expires_in":300}');
    },
  },
  {
    id: 'token-outlives-oidc',
    description: 'the token endpoint says expires_in: ten years, longer than the OIDC token it was exchanged for',
    breaks: ['oidc/token/expiry'],
    bufferBody: (req, s) => isTokenEndpoint(req) && s === 200,
    response: (req, res) => {
      if (isTokenEndpoint(req)) editJson(res, (j) => ({ ...j, expires_in: 10 * 365 * 24 * 3600 }));
    },
  },
  {
    id: 'push-refusal-accepted',
    description: 'a refused upload start (401/403) is turned into 202 with a Location',
    breaks: ['auth/anonymous/cannot-push', 'auth/token/repository-bound', 'auth/token/garbage-refused', 'auth/token/scope-downgrade', 'rules/project-member/non-member-denied', 'rules/auth-token/password-denied', 'oidc/grant/bounded'],
    bufferBody: (req, s) => isUploadPost(req) && (s === 401 || s === 403),
    response: (req, res) => {
      if (isUploadPost(req) && (res.status === 401 || res.status === 403)) {
        res.status = 202;
        res.body = Buffer.alloc(0);
        res.headers = { location: `${req.url.pathname}${randomBytes(8).toString('hex')}`, 'docker-upload-uuid': 'planted', range: '0-0' };
      }
    },
  },
  {
    id: 'basic-password-cut-at-colon',
    description: 'Basic credentials are split at the last colon, so a password containing ":" is cut',
    breaks: ['auth/password/colon'],
    request: (req) => {
      const m = /^Basic (.+)$/i.exec(String(req.headers.authorization ?? ''));
      if (!m) return;
      const plain = Buffer.from(m[1]!, 'base64').toString('utf8');
      const i = plain.lastIndexOf(':');
      const cut = `${plain.slice(0, plain.indexOf(':'))}:${plain.slice(i + 1)}`;
      req.headers.authorization = `Basic ${Buffer.from(cut).toString('base64')}`;
    },
  },
  {
    id: 'tag-overwrite-allowed',
    description: 'the tag-overwrite refusal (409) is reported as success',
    breaks: ['rules/tag-overwrite/refused', 'rules/tag-overwrite/concurrent-first-push'],
    bufferBody: (req, s) => req.method === 'PUT' && isManifest(req) && s === 409,
    response: (req, res) => {
      if (req.method === 'PUT' && isManifest(req) && res.status === 409) {
        res.status = 201;
        res.body = Buffer.alloc(0);
      }
    },
  },
  {
    id: 'token-scope-ignored',
    description: 'the token endpoint grants pull,push whatever scope was asked for',
    breaks: ['auth/token/pull-only-cannot-push'],
    request: (req) => {
      const scopes = req.url.searchParams.getAll('scope');
      if (scopes.length && /token/.test(req.url.pathname)) {
        req.url.searchParams.delete('scope');
        for (const sc of scopes) req.url.searchParams.append('scope', sc.replace(/:pull$/, ':pull,push'));
      }
    },
  },
  {
    id: 'refresh-token-dropped',
    description: 'the OAuth2 password grant never returns a refresh_token',
    breaks: ['auth/oauth2/password'],
    bufferBody: (req, s) => req.method === 'POST' && /token/.test(req.url.pathname) && s === 200,
    response: (req, res) => {
      if (req.method === 'POST' && /token/.test(req.url.pathname)) editJson(res, (j) => ({ ...j, refresh_token: undefined }));
    },
  },
  {
    id: 'challenge-scope-dropped',
    description: '401 challenges omit the scope parameter',
    breaks: ['auth/challenge/scope'],
    response: (_req, res) => {
      const h = res.headers['www-authenticate'];
      if (typeof h === 'string') res.headers['www-authenticate'] = h.replace(/,\s*scope="[^"]*"/, '');
    },
  },
  // ---- push rules and GC (faked through the Nitro management API the suite's setup adapter calls) ----
  {
    id: 'identical-repush-refused',
    description: 'a second PUT of a manifest to the same tag is refused 409 even when the bytes are identical',
    breaks: ['rules/tag-overwrite/same-digest-accepted'],
    ...(() => {
      const seen = new Set<string>();
      return {
        reset: () => seen.clear(),
        request: (req: ProxiedRequest): ProxiedResponse | void => {
          if (req.method !== 'PUT' || !isManifest(req) || /\/manifests\/sha256:/.test(req.url.pathname)) return;
          if (!seen.has(req.url.pathname)) return void seen.add(req.url.pathname);
          return { status: 409, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"errors":[{"code":"DENIED","message":"planted: tag is immutable"}]}') };
        },
      };
    })(),
  },
  {
    id: 'unsigned-manifest-served',
    description: 'a manifest GET refused by content trust (4xx) is answered 200 with the bytes the proxy saw pushed',
    breaks: ['rules/content-trust/unsigned-not-served'],
    ...(() => {
      // Manifests pushed through the proxy, by the path they were pushed to and by their digest.
      const pushed = new Map<string, Buffer>();
      const refused = (req: ProxiedRequest, s: number) => req.method === 'GET' && isManifest(req) && s >= 400 && s < 500;
      return {
        reset: () => pushed.clear(),
        requestBody: (req: ProxiedRequest, body: Buffer) => {
          if (req.method !== 'PUT' || !isManifest(req)) return;
          pushed.set(req.url.pathname, body);
          pushed.set(req.url.pathname.replace(/\/manifests\/[^/]+$/, `/manifests/sha256:${createHash('sha256').update(body).digest('hex')}`), body);
        },
        bufferBody: refused,
        response: (req: ProxiedRequest, res: ProxiedResponse) => {
          const body = refused(req, res.status) ? pushed.get(req.url.pathname) : undefined;
          if (!body) return;
          res.status = 200;
          res.body = body;
          const mediaType = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType;
          res.headers = { 'content-type': mediaType ?? 'application/vnd.oci.image.manifest.v1+json' };
        },
      };
    })(),
  },
  {
    id: 'gc-report-not-dry',
    description: 'a GC dry run reports dry_run: false',
    breaks: ['gc/dry-run-deletes-nothing'],
    bufferBody: (req, s) => req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname) && s === 200,
    response: (req, res) => {
      if (req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname)) editJson(res, (j) => ({ ...j, dry_run: false }));
    },
  },
  {
    id: 'gc-report-overcounts',
    description: 'the GC report claims one blob more than it deleted (the stats do not move by blobs_deleted)',
    breaks: ['gc/stats-move'],
    bufferBody: (req, s) => req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname) && s === 200,
    response: (req, res) => {
      if (req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname)) editJson(res, (j) => ({ ...j, blobs_deleted: Number(j.blobs_deleted) + 1 }));
    },
  },
  {
    id: 'gc-takes-live-blobs',
    description: 'after a GC, blob GETs answer 404 (as if GC collected layers still referenced)',
    breaks: ['gc/shared-blob-intact', 'gc/referrers-kept'],
    ...(() => {
      let collected = false;
      return {
        reset: () => void (collected = false),
        request: (req: ProxiedRequest): ProxiedResponse | void => {
          if (req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname)) collected = true;
          else if (collected && isBlobGet(req)) return { status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN","message":"planted"}]}') };
        },
      };
    })(),
  },
  {
    id: 'noop-gc',
    description: 'POST /api/repository/{id}/gc reports success but collects nothing',
    breaks: ['gc/unreferenced-blob-removed', 'gc/untagged-manifest-removed'],
    request: (req) =>
      req.method === 'POST' && /^\/api\/repository\/[^/]+\/gc$/.test(req.url.pathname)
        ? {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: Buffer.from(JSON.stringify({ dry_run: false, manifests_deleted: 0, blobs_deleted: 0, bytes_freed: 0, uploads_purged: 0, duration_ms: 1 })),
          }
        : undefined,
  },
];

/**
 * Checks no proxy defect can target, each with the reason (check id → why). The coverage test asserts that every check
 * id of the suite is either named in some defect's `breaks` or here, so a new check needs one or the other. Empty today:
 * even the push-rule, GC and OIDC checks are faked from the outside (a refusal turned into success, a GC report that
 * lies, live blobs answered 404 after a GC), because every outcome they assert is observed over HTTP. A reason belongs
 * here only when the failure the check looks for cannot be seen on the wire at all.
 */
export const NOT_PLANTABLE: Record<string, string> = {};

export interface FaultProxy {
  url: string;
  /** Plant a defect (or none) for the requests that follow. */
  plant(d: Defect | undefined): void;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  let defect: Defect | undefined;
  const server = http.createServer((inReq: IncomingMessage, out: ServerResponse) => {
    const req: ProxiedRequest = {
      method: inReq.method ?? 'GET',
      url: new URL(inReq.url ?? '/', 'http://proxy.invalid'),
      headers: { ...inReq.headers },
    };
    const d = defect;
    const early = d?.request?.(req);
    if (early) {
      inReq.resume();
      out.writeHead(early.status, early.headers as http.OutgoingHttpHeaders);
      out.end(early.body);
      return;
    }
    // Keep the client's Host so the upstream builds Location URLs that point back at the proxy.
    const fwd = http.request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url.pathname + req.url.search, headers: req.headers },
      (upRes) => {
        const res: ProxiedResponse = { status: upRes.statusCode ?? 502, headers: { ...upRes.headers } };
        const rewriteLocation = () => {
          const loc = res.headers.location;
          if (typeof loc === 'string' && loc.startsWith(up.origin)) res.headers.location = loc.slice(up.origin.length);
        };
        if (d?.bufferBody?.(req, res.status)) {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            res.body = Buffer.concat(chunks);
            d.response?.(req, res);
            rewriteLocation();
            delete res.headers['transfer-encoding'];
            res.headers['content-length'] = String(res.body.length);
            out.writeHead(res.status, res.headers as http.OutgoingHttpHeaders);
            out.end(req.method === 'HEAD' ? undefined : res.body);
          });
          return;
        }
        d?.response?.(req, res);
        rewriteLocation();
        if (d?.rawHeadBody && req.method === 'HEAD' && /\/blobs\/sha256:/.test(req.url.pathname)) {
          // Node's server never sends a body on HEAD; a broken registry might, so write the bytes raw.
          upRes.resume();
          const lines = [`HTTP/1.1 ${res.status} X`];
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && k !== 'connection' && k !== 'keep-alive') lines.push(`${k}: ${v}`);
          lines.push('connection: close');
          out.socket?.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), d.rawHeadBody]));
          return;
        }
        out.writeHead(res.status, res.headers as http.OutgoingHttpHeaders);
        upRes.pipe(out);
      },
    );
    fwd.on('error', (e) => {
      if (!out.headersSent) out.writeHead(502, { 'content-type': 'text/plain' });
      out.end(`fault-proxy upstream error: ${e.message}`);
    });
    if (d?.requestBody) {
      const chunks: Buffer[] = [];
      inReq.on('data', (c: Buffer) => chunks.push(c));
      inReq.on('end', () => d.requestBody!(req, Buffer.concat(chunks)));
    }
    inReq.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    plant: (d) => {
      d?.reset?.();
      defect = d;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
