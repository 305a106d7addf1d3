// A fault-injecting HTTP proxy for proof (c): it sits in front of a real registry and plants exactly one defect,
// so a test can assert that the conformance check meant to catch that defect fails.
import { randomBytes } from 'node:crypto';
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

/** The defects planted one at a time. Each names the check(s) that must catch it. */
export const DEFECTS: Defect[] = [
  {
    id: 'wrong-digest-header',
    description: 'blob upload completion reports a Docker-Content-Digest that is not the blob’s',
    breaks: ['push/post-put/upload'],
    response: (req, res) => {
      if (isUploadPut(req) && res.status === 201) res.headers['docker-content-digest'] = fakeDigest();
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
    description: 'manifest DELETE answers 202 but deletes nothing',
    breaks: ['content/delete/manifest-by-digest'],
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
    breaks: ['pull/blob/head'],
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
  {
    id: 'tag-overwrite-allowed',
    description: 'the tag-overwrite refusal (409) is reported as success',
    breaks: ['rules/tag-overwrite/refused'],
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
  {
    id: 'noop-gc',
    description: 'POST /api/repository/{id}/gc reports success but collects nothing',
    breaks: ['gc/unreferenced-blob-removed'],
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
    inReq.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    plant: (d) => {
      defect = d;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
