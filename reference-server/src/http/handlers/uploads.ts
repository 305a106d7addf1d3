/**
 * Blob uploads: POST /v2/<name>/blobs/uploads/ (session, monolithic ?digest=, mount ?mount=&from=),
 * and on /v2/<name>/blobs/uploads/<uuid>: PATCH (chunk), PUT ?digest= (finish), GET (status), DELETE (cancel).
 */
import type { Route, RequestContext } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { RegistryError } from '../../oci/errors.js';
import { parseDigest } from '../../oci/digest.js';
import { isValidName } from '../../oci/names.js';
import { rangeHeader, uploadLocation, type ChunkOptions } from '../../registry/uploads.js';
import { headerInt, sendEmpty } from '../respond.js';
import { repositoryName } from '../names.js';

const START = /^\/v2\/(?<name>.+)\/blobs\/uploads\/?$/;
const SESSION = /^\/v2\/(?<name>.+)\/blobs\/uploads\/(?<uuid>[^/]+)$/;

/**
 * Content-Range of a chunk: the spec's `<start>-<end>`; also `bytes <start>-<end>/<total>` and
 * `bytes=<start>-<end>` as some clients send. Returns null when absent; throws 416 when malformed.
 */
export function parseContentRange(value: string | undefined): { start: number; end: number } | null {
  if (value === undefined) return null;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', 'malformed Content-Range', { contentRange: value });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', 'Content-Range end is before its start', { contentRange: value });
  return { start, end };
}

function chunkOptions(ctx: RequestContext): ChunkOptions {
  const range = parseContentRange(ctx.req.headers['content-range']);
  const length = headerInt(ctx.req.headers['content-length']);
  if (range && length !== undefined && length !== range.end - range.start + 1) {
    throw new RegistryError('RANGE_INVALID', 'Content-Length does not match Content-Range', {
      contentRange: ctx.req.headers['content-range'],
      contentLength: length,
    });
  }
  return {
    ...(range ? { start: range.start, length: range.end - range.start + 1 } : {}),
    ...(length !== undefined && !range ? { length } : {}),
    signal: ctx.signal,
  };
}

/** True when the request carries a body (a final chunk on PUT, data on POST). */
const hasBody = (ctx: RequestContext): boolean => {
  const len = ctx.req.headers['content-length'];
  if (len !== undefined) return len.trim() !== '0';
  return ctx.req.headers['transfer-encoding'] !== undefined;
};

export function uploadRoutes(deps: RegistryDeps): Route[] {
  const push = (p: Readonly<Record<string, string>>) => ({ kind: 'repository' as const, name: p.name ?? '', actions: ['pull' as const, 'push' as const] });

  const sessionAccepted = (ctx: RequestContext, name: string, id: string, offset: number) =>
    sendEmpty(ctx.res, 202, {
      Location: uploadLocation(name, id),
      Range: rangeHeader(offset),
      'Docker-Upload-UUID': id,
    });

  const blobCreated = (ctx: RequestContext, name: string, digest: string) =>
    sendEmpty(ctx.res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });

  const session = async (ctx: RequestContext) => {
    const name = repositoryName(ctx.params);
    ctx.log.repository = name;
    const id = ctx.params.uuid ?? '';
    return { name, id, rec: await deps.uploads.get(id, name) };
  };

  return [
    {
      method: 'POST',
      name: 'upload_start',
      pattern: START,
      access: (p, url) => {
        const from = url.searchParams.get('from');
        const mount = url.searchParams.get('mount');
        const mountsFrom = from !== null && from !== p.name && isValidName(from) && mount !== null && parseDigest(mount) !== null;
        return { ...push(p), ...(mountsFrom ? { alsoAsk: [{ name: from, actions: ['pull' as const] }] } : {}) };
      },
      async handle(ctx) {
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        await deps.hooks.beforeBlobPush({ name, principal: ctx.principal });
        const q = ctx.url.searchParams;

        const mount = q.get('mount');
        if (mount !== null && parseDigest(mount)) {
          const from = q.get('from');
          // Mount only from repositories the caller may pull from; otherwise fall back to an upload session.
          // A named source must also be in the request's token (clients ask for `repository:<from>:pull`);
          // without `from` the client cannot name it, so the account's own access decides.
          const sources = from !== null ? (isValidName(from) ? [from] : []) : await deps.meta.repositoriesWithBlob(mount);
          let source: string | undefined;
          for (const r of sources) {
            if (!ctx.principal.can(r, 'pull') || (from !== null && !ctx.principal.grants(r, 'pull'))) continue;
            if (await deps.meta.getLinkedBlob(r, mount)) {
              source = r;
              break;
            }
          }
          if (source !== undefined && (await deps.meta.linkBlob(mount, name))) {
            ctx.req.resume();
            return blobCreated(ctx, name, mount);
          }
        }

        const digest = q.get('digest');
        if (digest !== null) {
          const blob = await deps.uploads.monolithic(name, digest, ctx.req, chunkOptions(ctx));
          ctx.log.bytesIn = blob.size;
          return blobCreated(ctx, name, blob.digest);
        }

        ctx.req.resume(); // a POST that opens a session carries no data we keep
        const rec = await deps.uploads.start(name, { account: ctx.principal.subject, address: ctx.req.socket.remoteAddress ?? 'unknown' });
        ctx.res.setHeader('OCI-Chunk-Min-Length', String(deps.options.chunkMinLength));
        return sessionAccepted(ctx, name, rec.id, 0);
      },
    },
    {
      method: 'PATCH',
      name: 'upload_chunk',
      pattern: SESSION,
      access: push,
      async handle(ctx) {
        const { name, id, rec: before } = await session(ctx);
        const rec = await deps.uploads.append(id, name, ctx.req, chunkOptions(ctx));
        ctx.log.bytesIn = rec.offset - before.offset;
        return sessionAccepted(ctx, name, id, rec.offset);
      },
    },
    {
      method: 'PUT',
      name: 'upload_finish',
      pattern: SESSION,
      access: push,
      async handle(ctx) {
        const { name, id, rec } = await session(ctx);
        const digest = ctx.url.searchParams.get('digest') ?? '';
        const final = hasBody(ctx) ? { body: ctx.req, opts: chunkOptions(ctx) } : null;
        if (!final) ctx.req.resume();
        const blob = await deps.uploads.complete(id, name, digest, final);
        ctx.log.bytesIn = blob.size - rec.offset;
        return blobCreated(ctx, name, blob.digest);
      },
    },
    {
      method: 'GET',
      name: 'upload_status',
      pattern: SESSION,
      access: push,
      async handle(ctx) {
        const { name, id, rec } = await session(ctx);
        sendEmpty(ctx.res, 204, { Location: uploadLocation(name, id), Range: rangeHeader(rec.offset), 'Docker-Upload-UUID': id });
      },
    },
    {
      method: 'DELETE',
      name: 'upload_cancel',
      pattern: SESSION,
      access: push,
      async handle(ctx) {
        const { name, id } = await session(ctx);
        await deps.uploads.cancel(id, name);
        sendEmpty(ctx.res, 204);
      },
    },
  ];
}
