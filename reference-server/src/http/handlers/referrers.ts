/** GET /v2/<name>/referrers/<digest>[?artifactType=] — OCI 1.1 referrers API. */
import type { Route } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { MediaType } from '../../oci/media-types.js';
import { digestParam, repositoryName } from '../names.js';
import { sendJson } from '../respond.js';

export function referrerRoutes(deps: RegistryDeps): Route[] {
  return [
    {
      method: 'GET',
      name: 'referrers',
      pattern: /^\/v2\/(?<name>.+)\/referrers\/(?<digest>[^/]+)$/,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull'] }),
      async handle(ctx) {
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        const subject = digestParam(ctx.params.digest);
        const artifactType = ctx.url.searchParams.get('artifactType') ?? undefined;
        const all = await deps.meta.referrers(name, subject, artifactType);
        // Page by digest order; the Link target is opaque to clients.
        const after = ctx.url.searchParams.get('last');
        const from = after ? all.filter((r) => r.digest > after) : all;
        const size = deps.options.maxPageSize;
        const page = from.slice(0, size);
        const headers: Record<string, string> = { 'Content-Type': MediaType.OciIndex };
        if (artifactType !== undefined) headers['OCI-Filters-Applied'] = 'artifactType';
        if (from.length > size) {
          const q = new URLSearchParams({ last: page[page.length - 1]!.digest });
          if (artifactType !== undefined) q.set('artifactType', artifactType);
          headers.Link = `</v2/${name}/referrers/${subject}?${q}>; rel="next"`;
        }
        const body = {
          schemaVersion: 2,
          mediaType: MediaType.OciIndex,
          manifests: page.map((r) => ({
            mediaType: r.mediaType,
            digest: r.digest,
            size: r.size,
            ...(r.artifactType ? { artifactType: r.artifactType } : {}),
            ...(r.annotations ? { annotations: r.annotations } : {}),
          })),
        };
        ctx.log.bytesOut = sendJson(ctx.res, 200, body, headers);
      },
    },
  ];
}
