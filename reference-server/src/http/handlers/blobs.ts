/** /v2/<name>/blobs/<digest> — GET (streamed, Range), HEAD, DELETE. */
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Route, RequestContext } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { RegistryError, immutableRefusal } from '../../oci/errors.js';
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
  const lookup = (ctx: RequestContext) => {
    const name = repositoryName(ctx.params);
    ctx.log.repository = name;
    const digest = digestParam(ctx.params.digest);
    const blob = deps.meta.getLinkedBlob(name, digest);
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
        const { blob } = lookup(ctx);
        const range = parseRange(ctx.req.headers.range, blob.size);
        const stream = deps.blobs.read(blob.digest, range ?? undefined);
        // Open before sending headers so a missing file still gets a clean error response.
        await new Promise<void>((resolve, reject) => {
          stream.once('open', () => resolve());
          stream.once('error', (e) => reject(e));
        }).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') throw new RegistryError('BLOB_UNKNOWN', 'blob data is missing', { digest: blob.digest });
          throw e;
        });
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
        await pipeline(stream, ctx.res, { signal: ctx.signal });
      },
    },
    {
      method: 'HEAD',
      name: 'blob_head',
      pattern: PATTERN,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull'] }),
      async handle(ctx) {
        const { blob } = lookup(ctx);
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
        const decision = await deps.hooks.beforeDelete({ name, tag: null, digest, principal: ctx.principal });
        // With immutable tags, a layer under a stored manifest stays: unlinking it would break the image.
        if (!decision.allowTagOverwrite && deps.meta.blobReferenced(name, digest)) {
          throw immutableRefusal('deleting a blob that a manifest references', { digest });
        }
        if (!deps.meta.unlinkBlob(name, digest)) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
        sendEmpty(ctx.res, 202, { 'Docker-Content-Digest': digest });
      },
    },
  ];
}
