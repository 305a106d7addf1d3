/** GET /v2/<name>/tags/list — sorted, paginated with n/last and a Link header. */
import type { Route } from '../route.js';
import type { RegistryDeps } from '../../registry/deps.js';
import { RegistryError } from '../../oci/errors.js';
import { pageParams, sendJson } from '../respond.js';
import { repositoryName } from '../names.js';
import { paginate } from './paginate.js';

export function tagRoutes(deps: RegistryDeps): Route[] {
  return [
    {
      method: 'GET',
      name: 'tags_list',
      pattern: /^\/v2\/(?<name>.+)\/tags\/list$/,
      access: (p) => ({ kind: 'repository', name: p.name ?? '', actions: ['pull'] }),
      async handle(ctx) {
        const name = repositoryName(ctx.params);
        ctx.log.repository = name;
        if (!(await deps.meta.repositoryExists(name))) throw new RegistryError('NAME_UNKNOWN', undefined, { name });
        const page = pageParams(ctx.url, deps.options.maxPageSize);
        const { items, link } = await paginate(page, (p) => deps.meta.listTags(name, p), `/v2/${name}/tags/list`);
        ctx.log.bytesOut = sendJson(ctx.res, 200, { name, tags: items }, link ? { Link: link } : {});
      },
    },
  ];
}
