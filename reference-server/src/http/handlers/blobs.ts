/** /v2/<name>/blobs/<digest> — GET (streamed, Range), HEAD, DELETE. */
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Route, RequestContext } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { RegistryError, throwIfRefused } from '../../oci/errors.js';
import { digestParam, repositoryName } from '../names.js';
import { sendEmpty } from '../respond.js';
import type { ByteRange } from '../../storage/blob-store.js';

const PATTERN = /^\/v2\/(?<name>.+)\/blobs\/(?<digest>[^/]+)$/;

/** Parses a single `bytes=a-b` / `bytes=a-` / `bytes=-n` range; null when absent. Throws 416 when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = () =>
    new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { range: header, size }, { 'Content-Range': `bytes */${size}` });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable();
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable();
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable();
  return { start, end };
}

export function blobRoutes(deps: RegistryDeps): Route[] {
  const lookup = async (ctx: RequestContext) => {
    const name = repositoryName(ctx.params);
    ctx.log.repository = name;
    const digest = digestParam(ctx.params.digest);
    // First: a client that finds the blob here may reference it next; GC's grace restarts (store.ts).
    await deps.meta.touchBlob(name, digest);
    const blob = await deps.meta.getLinkedBlob(name, digest);
    if (!blob) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    return { name, blob };
  };

  const headers = (res: ServerResponse, digest: string) => {
    res.setHeader('Docker-Content-Digest', digest);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', 'application/octet-stream');
    // Content-addressed: the bytes behind a digest never change.
    res.setHeader('Cache-Control', 'max-age=31536000');
    res.setHeader('ETag', `"${digest}"`);
  };

  return [
    {
      method: 'GET',
      name: 'blob_get',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull'] }),
      async handle(ctx) {
        const { blob } = await lookup(ctx);
        // Drivers that can serve bytes directly (S3 with redirect on) answer with a short-lived URL.
        const direct = deps.blobs.redirectUrl ? await deps.blobs.redirectUrl(blob.digest) : null;
        if (direct !== null) {
          ctx.req.resume();
          return sendEmpty(ctx.res, 307, { Location: direct, 'Docker-Content-Digest': blob.digest });
        }
        const range = parseRange(ctx.req.headers.range, blob.size);
        // Opened before any header is sent, so missing data still gets a clean error response.
        const opened = await deps.blobs.open(blob.digest, range ?? undefined, ctx.signal);
        if (!opened) throw new RegistryError('BLOB_UNKNOWN', 'blob data is missing', { digest: blob.digest });
        // Only now: an error response must not carry the blob's digest or its year-long Cache-Control.
        headers(ctx.res, blob.digest);
        if (range) {
          ctx.res.writeHead(206, {
            'Content-Length': range.end - range.start + 1,
            'Content-Range': `bytes ${range.start}-${range.end}/${blob.size}`,
          });
        } else {
          ctx.res.writeHead(200, { 'Content-Length': blob.size });
        }
        ctx.log.bytesOut = range ? range.end - range.start + 1 : blob.size;
        if (opened.sendTo) {
          try {
            await opened.sendTo(ctx.res, ctx.signal); // ends the response with its last byte
          } catch (e) {
            ctx.res.destroy(); // headers are out: a cut connection is the only honest answer
            throw e;
          }
        } else {
          await pipeline(opened.stream, ctx.res, { signal: ctx.signal });
        }
      },
    },
    {
      method: 'HEAD',
      name: 'blob_head',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull'] }),
      async handle(ctx) {
        const { blob } = await lookup(ctx);
        headers(ctx.res, blob.digest);
        sendEmpty(ctx.res, 200, { 'Content-Length': blob.size });
      },
    },
    {
      method: 'DELETE',
      name: 'blob_delete',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['delete'] }),
      async handle(ctx) {
        if (!deps.options.deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        const digest = digestParam(ctx.params.digest);
        const rules = await deps.hooks.beforeDelete({ name, tag: null, digest, principal: ctx.principal });
        throwIfRefused(await deps.meta.unlinkBlob(name, digest, rules), () => new RegistryError('BLOB_UNKNOWN', undefined, { digest }));
        sendEmpty(ctx.res, 202, { 'Docker-Content-Digest': digest });
      },
    },
  ];
}
