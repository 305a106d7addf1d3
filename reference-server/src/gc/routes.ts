/**
 *   POST /api/repository/{id}/gc     (registry admin)  body {dry_run?, delete_untagged?, grace_seconds?} → GcReport
 *   GET  /api/repository/{id}/stats  (readers of the repository)                                       → RepositoryStats
 */
import type { Route, RequestContext } from '../http/route.js';
import { readBody, sendJson } from '../http/respond.js';
import { RegistryError } from '../oci/errors.js';
import type { GarbageCollector } from './collector.js';
import type { StatsService } from './stats.js';
import type { RepositoryScope, ScopeResolver } from './scope.js';
import type { GcRunOptions } from './policy.js';

/** Errors of these endpoints, as data: code → status. Sent in the registry's `{"errors":[...]}` shape. */
export const GC_API_ERRORS = {
  INVALID_REQUEST: 400,
  REPOSITORY_UNKNOWN: 404,
} as const;

class ApiError extends Error {
  constructor(
    readonly code: keyof typeof GC_API_ERRORS,
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

const MAX_BODY = 4096;

export interface GcRouteDeps {
  readonly gc: GarbageCollector;
  readonly stats: StatsService;
  readonly resolveScope: ScopeResolver;
}

/** Parses and validates the optional JSON body of a GC request. */
export function parseGcBody(body: Buffer): GcRunOptions {
  if (body.length === 0) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError('INVALID_REQUEST', 'body is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ApiError('INVALID_REQUEST', 'body must be a JSON object');
  const out: { dryRun?: boolean; deleteUntagged?: boolean; graceSeconds?: number } = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'dry_run' || k === 'delete_untagged') {
      if (typeof v !== 'boolean') throw new ApiError('INVALID_REQUEST', `${k} must be true or false`, { [k]: v });
      if (k === 'dry_run') out.dryRun = v;
      else out.deleteUntagged = v;
    } else if (k === 'grace_seconds') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError('INVALID_REQUEST', 'grace_seconds must be a non-negative integer', { grace_seconds: v });
      out.graceSeconds = v;
    } else {
      throw new ApiError('INVALID_REQUEST', `unknown field ${JSON.stringify(k)}`);
    }
  }
  return out;
}

async function guarded(ctx: RequestContext, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    ctx.log.error = e.code;
    sendJson(ctx.res, GC_API_ERRORS[e.code], { errors: [{ code: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) }] });
  }
}

export function gcRoutes(deps: GcRouteDeps): Route[] {
  const scopeOf = (ctx: RequestContext): RepositoryScope => {
    const id = ctx.params.id ?? '';
    const scope = deps.resolveScope(id);
    if (!scope) throw new ApiError('REPOSITORY_UNKNOWN', 'no such repository', { id });
    ctx.log.repository = scope.name;
    return scope;
  };
  return [
    {
      method: 'POST',
      name: 'api_repository_gc',
      pattern: /^\/api\/repository\/(?<id>[^/]+)\/gc$/,
      // The quick reference triggers GC with the token it got for a repository scope.
      access: () => ({ kind: 'admin', maintenance: true }),
      handle: (ctx) =>
        guarded(ctx, async () => {
          const scope = scopeOf(ctx);
          const body = await readBody(ctx.req, MAX_BODY, () => new RegistryError('SIZE_INVALID', `body exceeds ${MAX_BODY} bytes`));
          const options = parseGcBody(body);
          const report = await deps.gc.run({ ...options, scope, principal: ctx.principal.subject });
          sendJson(ctx.res, 200, report);
        }),
    },
    {
      method: 'GET',
      name: 'api_repository_stats',
      pattern: /^\/api\/repository\/(?<id>[^/]+)\/stats$/,
      access: (p) => ({ kind: 'repository-admin-read', repositoryId: p.id ?? '', maintenance: true }),
      handle: (ctx) =>
        guarded(ctx, async () => {
          sendJson(ctx.res, 200, await deps.stats.stats(scopeOf(ctx)));
        }),
    },
  ];
}
