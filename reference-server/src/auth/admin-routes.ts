/**
 * The management API for accounts, projects and Nitro repositories (JSON in, JSON out). Registry admins
 * may do everything; a user may manage their own access tokens (when logged in with a password or an
 * unscoped token) and a project admin may manage the project's members.
 *
 * Credentials: Basic (password or access token), a raw access token as Bearer, or a registry JWT issued
 * with the management scope `registry:api:*`. A JWT issued for repository scopes only is refused here
 * (the authorizer answers 401 insufficient_scope): it authorizes only GC and stats (gc/routes.ts).
 *
 *   GET    /api/users                                   POST /api/users {username, password?, admin?}
 *   DELETE /api/users/{u}                               PUT  /api/users/{u}/password {password}
 *   GET    /api/users/{u}/tokens                        POST /api/users/{u}/tokens {name, scopes?, expires_in?} → {token}
 *   DELETE /api/users/{u}/tokens/{name}
 *   GET    /api/projects/{p}/members                    PUT  /api/projects/{p}/members/{u} {role}
 *   DELETE /api/projects/{p}/members/{u}
 *   GET    /api/repository                              POST /api/repository {name, visibility?, config, id?} → {id}
 *   GET    /api/repository/{id}                         PUT  /api/repository/{id}/config  (the quick reference's JSON)
 *   PUT    /api/repository/{id}/visibility {visibility} DELETE /api/repository/{id}
 */
import type { Route, RequestContext, Method } from '../http/route.js';
import type { AccessRequirement, Principal } from '../registry/access.js';
import { readBody, sendJson, sendEmpty } from '../http/respond.js';
import { RegistryError } from '../oci/errors.js';
import { AccountError, PROJECT_RE, roleRank, type Accounts, type AccessToken } from './accounts.js';
import { RepositoryConfigError } from '../repositories/config.js';
import { DEFAULT_REPOSITORY_NAME, RepositoryConflictError, type NitroRepositories, type NitroRepository } from '../repositories/store.js';
import type { Audit } from './audit.js';

const MAX_JSON_BYTES = 256 * 1024;

/** 400/404/409 for API input problems (the OCI code table has no generic "bad request"/"conflict"). */
class ApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

const CODE_FOR_STATUS = { 400: 'INVALID_REQUEST', 404: 'NOT_FOUND', 409: 'CONFLICT' } as const;

async function readJson(ctx: RequestContext): Promise<Record<string, unknown>> {
  const body = await readBody(ctx.req, MAX_JSON_BYTES, () => new RegistryError('SIZE_INVALID', 'request body too large'));
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'request body must be JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

const repoJson = (r: NitroRepository) => ({ id: r.id, name: r.name, visibility: r.visibility, config: r.config });
const tokenJson = (t: AccessToken) => ({
  name: t.name,
  scopes: t.scopes === null ? null : t.scopes.map((s) => `${s.type}:${s.name}:${s.actions.join(',')}`),
  expires_at: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
  created_at: new Date(t.createdAt).toISOString(),
  last_used_at: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
});

export interface AdminRouteDeps {
  readonly accounts: Accounts;
  readonly repositories: NitroRepositories;
  readonly audit: Audit;
  /** Every image name that holds content (the metadata store's repositories). */
  readonly imageNames: () => Promise<Iterable<string>>;
  /** Removes every manifest, tag and blob link under these image names (repositories/purge.ts). */
  readonly purge: (names: readonly string[]) => Promise<{ manifests: number; links: number }>;
}

export function adminRoutes(d: AdminRouteDeps): Route[] {
  const forbid = (p: Principal, what: string): never => {
    d.audit.event('denied', { user: p.subject, method: p.method, reason: what });
    throw new RegistryError('DENIED', what);
  };
  const changed = (ctx: RequestContext, action: string, fields: Record<string, unknown>) =>
    d.audit.event('admin_change', { user: ctx.principal.subject, action, ...fields });

  /** Self-service on one's own tokens: with a password or an unscoped token, never with a scoped one. */
  const selfOrAdmin = (ctx: RequestContext, username: string) => {
    const p = ctx.principal;
    if (p.admin) return;
    if (p.subject === username && p.method !== 'anonymous' && isUnscoped(p)) return;
    forbid(p, `only an administrator or ${username} (not with a scoped access token) may do this`);
  };
  const isUnscoped = (p: Principal): boolean => {
    const identity = (p as { identity?: { token: AccessToken | null } }).identity;
    return !identity?.token || identity.token.scopes === null;
  };

  const route = (
    method: Method,
    name: string,
    pattern: RegExp,
    access: (params: Readonly<Record<string, string>>) => AccessRequirement,
    fn: (ctx: RequestContext) => Promise<void>,
  ): Route => ({
    method,
    name,
    pattern,
    access,
    async handle(ctx) {
      try {
        await fn(ctx);
      } catch (e) {
        if (e instanceof ApiError) {
          sendJson(ctx.res, e.status, { errors: [{ code: CODE_FOR_STATUS[e.status], message: e.message }] });
          return;
        }
        if (e instanceof AccountError) {
          const status = e.kind === 'invalid' ? 400 : e.kind === 'conflict' ? 409 : 404;
          sendJson(ctx.res, status, { errors: [{ code: CODE_FOR_STATUS[status], message: e.message }] });
          return;
        }
        if (e instanceof RepositoryConfigError) {
          sendJson(ctx.res, 400, { errors: [{ code: 'INVALID_REQUEST', message: e.message }] });
          return;
        }
        if (e instanceof RepositoryConflictError) {
          sendJson(ctx.res, /^no repository/.test(e.message) ? 404 : 409, { errors: [{ code: /^no repository/.test(e.message) ? 'NOT_FOUND' : 'CONFLICT', message: e.message }] });
          return;
        }
        throw e;
      }
    },
  });

  const admin = () => ({ kind: 'admin' }) as const;
  // Who may act is checked by the handler (self-service, project admins); the authorizer makes sure it is an
  // account and that a registry JWT carries the management scope.
  const anyAccount = () => ({ kind: 'account' }) as const;
  const mustRepo = (id: string) => {
    const r = d.repositories.get(id);
    if (!r) throw new ApiError(404, `no repository with id ${id}`);
    return r;
  };

  return [
    // --- users ---------------------------------------------------------------------------------------
    route('GET', 'api_users_list', /^\/api\/users\/?$/, admin, async (ctx) => {
      sendJson(ctx.res, 200, (await d.accounts.listUsers()).map((u) => ({ username: u.username, admin: u.admin, robot: !u.hasPassword })));
    }),
    route('POST', 'api_users_create', /^\/api\/users\/?$/, admin, async (ctx) => {
      const b = await readJson(ctx);
      if (b.password !== undefined && b.password !== null && typeof b.password !== 'string') throw new ApiError(400, 'password must be a string');
      if (b.admin !== undefined && typeof b.admin !== 'boolean') throw new ApiError(400, 'admin must be true or false');
      const password = typeof b.password === 'string' ? b.password : null;
      const u = await d.accounts.createUser(b.username, password, b.admin === true);
      changed(ctx, 'user_create', { target: u.username, admin: u.admin });
      sendJson(ctx.res, 201, { username: u.username, admin: u.admin, robot: !u.hasPassword });
    }),
    route('DELETE', 'api_users_delete', /^\/api\/users\/(?<username>[^/]+)\/?$/, admin, async (ctx) => {
      const username = ctx.params.username!;
      if (username === ctx.principal.subject) throw new ApiError(409, 'you cannot delete your own account');
      if (!(await d.accounts.deleteUser(username))) throw new ApiError(404, `no user ${username}`);
      changed(ctx, 'user_delete', { target: username });
      sendEmpty(ctx.res, 204);
    }),
    route('PUT', 'api_users_password', /^\/api\/users\/(?<username>[^/]+)\/password\/?$/, anyAccount, async (ctx) => {
      const username = ctx.params.username!;
      selfOrAdmin(ctx, username);
      const b = await readJson(ctx);
      if (typeof b.password !== 'string') throw new ApiError(400, 'password must be a string');
      await d.accounts.setPassword(username, b.password);
      await d.accounts.revokeRefreshTokens(username);
      changed(ctx, 'user_password', { target: username });
      sendEmpty(ctx.res, 204);
    }),

    // --- access tokens -------------------------------------------------------------------------------
    route('GET', 'api_tokens_list', /^\/api\/users\/(?<username>[^/]+)\/tokens\/?$/, anyAccount, async (ctx) => {
      selfOrAdmin(ctx, ctx.params.username!);
      if (!(await d.accounts.getUser(ctx.params.username!))) throw new ApiError(404, `no user ${ctx.params.username}`);
      sendJson(ctx.res, 200, (await d.accounts.listTokens(ctx.params.username!)).map(tokenJson));
    }),
    route('POST', 'api_tokens_create', /^\/api\/users\/(?<username>[^/]+)\/tokens\/?$/, anyAccount, async (ctx) => {
      const username = ctx.params.username!;
      selfOrAdmin(ctx, username);
      const b = await readJson(ctx);
      const { secret, token } = await d.accounts.createToken(username, b.name, b.scopes, b.expires_in);
      changed(ctx, 'token_create', { target: username, token: token.name, scopes: tokenJson(token).scopes });
      // The secret is returned this once; only its hash is stored.
      sendJson(ctx.res, 201, { token: secret, ...tokenJson(token) }, { 'Cache-Control': 'no-store' });
    }),
    route('DELETE', 'api_tokens_revoke', /^\/api\/users\/(?<username>[^/]+)\/tokens\/(?<name>[^/]+)\/?$/, anyAccount, async (ctx) => {
      const { username, name } = ctx.params as { username: string; name: string };
      selfOrAdmin(ctx, username);
      if (!(await d.accounts.revokeToken(username, name))) throw new ApiError(404, `no token ${name} for ${username}`);
      changed(ctx, 'token_revoke', { target: username, token: name });
      sendEmpty(ctx.res, 204);
    }),

    // --- projects ------------------------------------------------------------------------------------
    route('GET', 'api_members_list', /^\/api\/projects\/(?<project>[^/]+)\/members\/?$/, anyAccount, async (ctx) => {
      const project = ctx.params.project!;
      if (!ctx.principal.admin && roleRank(await d.accounts.roleIn(project, ctx.principal.subject ?? '')) === 0) {
        forbid(ctx.principal, `only members of ${project} may list its members`);
      }
      sendJson(ctx.res, 200, await d.accounts.members(project));
    }),
    route('PUT', 'api_members_set', /^\/api\/projects\/(?<project>[^/]+)\/members\/(?<username>[^/]+)\/?$/, anyAccount, async (ctx) => {
      const { project, username } = ctx.params as { project: string; username: string };
      if (!PROJECT_RE.test(project)) throw new ApiError(400, 'invalid project name');
      if (!ctx.principal.admin && (await d.accounts.roleIn(project, ctx.principal.subject ?? '')) !== 'admin') {
        forbid(ctx.principal, `only an administrator or an admin of project ${project} may change its members`);
      }
      const b = await readJson(ctx);
      await d.accounts.setMember(project, username, b.role);
      changed(ctx, 'member_set', { project, target: username, role: b.role });
      sendJson(ctx.res, 200, { project, username, role: b.role });
    }),
    route('DELETE', 'api_members_remove', /^\/api\/projects\/(?<project>[^/]+)\/members\/(?<username>[^/]+)\/?$/, anyAccount, async (ctx) => {
      const { project, username } = ctx.params as { project: string; username: string };
      if (!ctx.principal.admin && (await d.accounts.roleIn(project, ctx.principal.subject ?? '')) !== 'admin') {
        forbid(ctx.principal, `only an administrator or an admin of project ${project} may change its members`);
      }
      if (!(await d.accounts.removeMember(project, username))) throw new ApiError(404, `${username} is not a member of ${project}`);
      changed(ctx, 'member_remove', { project, target: username });
      sendEmpty(ctx.res, 204);
    }),

    // --- Nitro repositories --------------------------------------------------------------------------
    route('GET', 'api_repository_list', /^\/api\/repository\/?$/, admin, async (ctx) => {
      sendJson(ctx.res, 200, d.repositories.list().map(repoJson));
    }),
    route('POST', 'api_repository_create', /^\/api\/repository\/?$/, admin, async (ctx) => {
      const b = await readJson(ctx);
      for (const k of Object.keys(b)) if (!['name', 'visibility', 'config', 'id'].includes(k)) throw new ApiError(400, `unknown field "${k}"`);
      const r = await d.repositories.create({
        name: b.name as string,
        ...(b.visibility !== undefined ? { visibility: b.visibility as 'public' | 'private' } : {}),
        config: b.config ?? { type: 'Hosted' },
        ...(b.id !== undefined ? { id: b.id as string } : {}),
      });
      changed(ctx, 'repository_create', { repository: r.id, name: r.name });
      sendJson(ctx.res, 201, repoJson(r), { Location: `/api/repository/${r.id}` });
    }),
    route('GET', 'api_repository_get', /^\/api\/repository\/(?<id>[^/]+)\/?$/, (p) => ({ kind: 'repository-admin-read', repositoryId: p.id ?? '' }), async (ctx) => {
      sendJson(ctx.res, 200, repoJson(mustRepo(ctx.params.id!)));
    }),
    route('GET', 'api_repository_config_get', /^\/api\/repository\/(?<id>[^/]+)\/config\/?$/, (p) => ({ kind: 'repository-admin-read', repositoryId: p.id ?? '' }), async (ctx) => {
      sendJson(ctx.res, 200, mustRepo(ctx.params.id!).config);
    }),
    route('PUT', 'api_repository_config', /^\/api\/repository\/(?<id>[^/]+)\/config\/?$/, admin, async (ctx) => {
      const repo = mustRepo(ctx.params.id!);
      const r = await d.repositories.updateConfig(repo.id, await readJson(ctx));
      changed(ctx, 'repository_config', { repository: r.id, config: r.config.push_rules ?? null });
      sendJson(ctx.res, 200, repoJson(r));
    }),
    route('PUT', 'api_repository_visibility', /^\/api\/repository\/(?<id>[^/]+)\/visibility\/?$/, admin, async (ctx) => {
      const repo = mustRepo(ctx.params.id!);
      const b = await readJson(ctx);
      const r = await d.repositories.setVisibility(repo.id, b.visibility as 'public' | 'private');
      changed(ctx, 'repository_visibility', { repository: r.id, visibility: r.visibility });
      sendJson(ctx.res, 200, repoJson(r));
    }),
    route('DELETE', 'api_repository_delete', /^\/api\/repository\/(?<id>[^/]+)\/?$/, admin, async (ctx) => {
      const repo = mustRepo(ctx.params.id!);
      // Deleting a repository never widens access to what it held: its image names would fall under the
      // next owning repository (usually the public default). So they are refused while it owns images,
      // or — with ?force=true — deleted with it (records now, blobs by the next GC run).
      if (repo.name === DEFAULT_REPOSITORY_NAME) throw new ApiError(409, 'the default repository cannot be deleted');
      const owned = d.repositories.imageNamesOf(repo.id, await d.imageNames());
      if (owned.length > 0 && ctx.url.searchParams.get('force') !== 'true') {
        throw new ApiError(409, `repository ${repo.id} still owns ${owned.length} image name(s) (e.g. ${owned[0]}); delete them first, or add ?force=true to delete them with the repository`);
      }
      let purged = await d.purge(owned);
      await d.repositories.delete(repo.id);
      // A push that landed between the purge and the delete is swept too (pushes after this go under the
      // new owner's rules, as a new push would).
      const again = await d.purge(owned);
      purged = { manifests: purged.manifests + again.manifests, links: purged.links + again.links };
      changed(ctx, 'repository_delete', { repository: repo.id, image_names: owned.length, manifests_deleted: purged.manifests, links_deleted: purged.links });
      sendEmpty(ctx.res, 204);
    }),
  ];
}
