/** GET /v2/_catalog — repositories the caller may pull, paginated with n/last and Link. */
import type { Route } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import type { Page } from '../../metadata/store.js';
import { pageParams, sendJson } from '../respond.js';
import { paginate } from './paginate.js';

export function catalogRoutes(deps: RegistryDeps): Route[] {
  return [
    {
      method: 'GET',
      name: 'catalog',
      pattern: /^\/v2\/_catalog\/?$/,
      access: () => ({ kind: 'catalog' }),
      async handle(ctx) {
        const page = pageParams(ctx.url, deps.options.maxPageSize);
        const visible = async (p: Page): Promise<string[]> => {
          if (ctx.principal.admin) return deps.meta.listRepositories(p);
          // Filter by what the caller may pull, reading further until the page is full.
          const out: string[] = [];
          let last = p.last;
          for (;;) {
            const batch = await deps.meta.listRepositories({ n: 500, ...(last ? { last } : {}) });
            for (const name of batch) {
              if (ctx.principal.can(name, 'pull')) out.push(name);
              if (p.n !== undefined && out.length >= p.n) return out;
            }
            if (batch.length < 500) return out;
            last = batch[batch.length - 1];
          }
        };
        const { items, link } = await paginate(page, visible, '/v2/_catalog');
        ctx.log.bytesOut = sendJson(ctx.res, 200, { repositories: items }, link ? { Link: link } : {});
      },
    },
  ];
}
