// The Nitro management API (/api/…): detected by probing, used to provision users, tokens, repositories with push
// rules, and to trigger GC. Everything created is remembered and removed by cleanup(); repositories only once
// the run's own images in them are gone (the suite deletes those through /v2/ first): a repository is never
// force-deleted, so no image ever falls under another repository's (possibly public) visibility.
import { randomBytes } from 'node:crypto';
import type { Credentials } from '../config.js';
import { basicHeader } from '../http/auth.js';
import type { HttpClient, Res } from '../http/client.js';
import { RegistryFailure } from '../harness/types.js';
import type { GcReport, PushRules, RepoStats, Role, SetupAdapter, SetupRepository } from './adapter.js';

export const OPEN_RULES: PushRules = {
  allow_tag_overwrite: true,
  must_be_project_member: false,
  must_use_auth_token_for_push: false,
  require_content_trust: false,
};

/** Probe for the management API: GET /api/repository with the admin credentials answers 200 with a JSON array. */
export async function detectManagement(http: HttpClient, admin: Credentials | undefined): Promise<string | undefined> {
  if (!admin) return 'no credentials configured, so the management API cannot be used';
  const res = await http.request('GET', '/api/repository', { auth: 'none', authorization: basicHeader(admin) });
  if (res.status === 404) return 'registry has no Nitro management API (GET /api/repository → 404)';
  if (res.status === 401 || res.status === 403) return `management API refused the configured credentials (HTTP ${res.status})`;
  if (res.status !== 200 || !Array.isArray(res.json())) return `GET /api/repository answered HTTP ${res.status}, not a JSON list`;
  return undefined;
}

export class ManagementSession implements SetupAdapter {
  readonly kind = 'nitro-api';
  readonly gcDryRun = true;
  private users: string[] = [];
  private repos: SetupRepository[] = [];
  constructor(
    private readonly http: HttpClient,
    private readonly admin: Credentials,
    readonly runId: string,
  ) {}

  /** Bearer token for the admin identity (undefined: not tried yet; null: use Basic). */
  private bearer?: string | null;

  private async call(method: string, path: string, body?: unknown): Promise<Res> {
    // A bearer token (fetched once, refreshed cheaply) spares the registry a slow password hash per call.
    if (this.bearer === undefined) {
      this.bearer = this.http.session.challenge?.scheme === 'bearer' ? ((await this.http.fetchToken('').catch(() => undefined)) ?? null) : null;
    }
    const send = (authorization: string) =>
      this.http.request(method, path, {
        auth: 'none',
        authorization,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      });
    if (this.bearer) {
      const res = await send(`Bearer ${this.bearer}`);
      // 403: a registry may refuse account management with a token (ours does): Basic for this call.
      if (res.status === 403) return send(basicHeader(this.admin));
      if (res.status !== 401) return res;
      this.bearer = null;
    }
    return send(basicHeader(this.admin));
  }

  private ok(res: Res, what: string, want: number[] = [200, 201, 204]): Res {
    if (!want.includes(res.status)) throw new RegistryFailure(`management API: ${what} → HTTP ${res.status} ${res.text().slice(0, 200)}`);
    return res;
  }

  createUser = async (username: string, password: string, admin = false): Promise<Credentials> => {
    this.ok(await this.call('POST', '/api/users', { username, password, admin }), `create user ${username}`);
    this.users.push(username);
    return { username, password };
  };

  createToken = async (username: string, name: string, opts: { expiresIn?: number } = {}): Promise<string> => {
    const body = { name, ...(opts.expiresIn !== undefined ? { expires_in: opts.expiresIn } : {}) };
    const res = this.ok(await this.call('POST', `/api/users/${username}/tokens`, body), `create token for ${username}`);
    const token = res.json<{ token?: string }>()?.token;
    if (!token) throw new RegistryFailure(`management API: token response for ${username} has no "token"`);
    return token;
  };

  setMember = async (project: string, username: string, role: Role): Promise<void> => {
    this.ok(await this.call('PUT', `/api/projects/${project}/members/${username}`, { role }), `add ${username} to ${project}`);
  };

  createRepository = async (slug: string, rules: Partial<PushRules> = {}, publicKeys: string[] = []): Promise<SetupRepository> => {
    const name = `nc${this.runId}-${slug}-${randomBytes(2).toString('hex')}`;
    const config = { type: 'Hosted', push_rules: { ...OPEN_RULES, ...rules }, content_trust: { public_keys: publicKeys } };
    const res = this.ok(await this.call('POST', '/api/repository', { name, visibility: 'private', config }), `create repository ${name}`);
    const id = res.json<{ id?: string | number }>()?.id;
    if (id === undefined) throw new RegistryFailure(`management API: create repository ${name} returned no id`);
    const r = { repository: name, id: String(id), image: `${name}/app` };
    this.repos.push(r);
    return r;
  };

  gc = async (target: SetupRepository, o: { dryRun: boolean; graceSeconds: number }): Promise<GcReport> => {
    const body = { dry_run: o.dryRun, delete_untagged: true, grace_seconds: o.graceSeconds };
    const res = this.ok(await this.call('POST', `/api/repository/${target.id}/gc`, body), `gc repository ${target.id}`);
    const r = res.json<GcReport>();
    if (!r) throw new RegistryFailure('management API: GC answer is not JSON');
    return r;
  };

  stats = async (target: SetupRepository): Promise<RepoStats> => {
    const res = this.ok(await this.call('GET', `/api/repository/${target.id}/stats`), `stats of repository ${target.id}`);
    const r = res.json<RepoStats>();
    if (!r) throw new RegistryFailure('management API: stats answer is not JSON');
    return r;
  };

  async release(): Promise<string[]> {
    const problems: string[] = [];
    for (const { id, repository } of this.repos) {
      const config = { type: 'Hosted', push_rules: OPEN_RULES, content_trust: { public_keys: [] } };
      const r = await this.call('PUT', `/api/repository/${id}/config`, config).catch((e: Error) => e);
      if (r instanceof Error || r.status !== 200) problems.push(`repository ${repository}: rules not lifted before cleanup (${r instanceof Error ? r.message : `HTTP ${r.status}`})`);
    }
    return problems;
  }

  /** Remove what this run created; failures are reported, never thrown. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const { id, repository } of this.repos.splice(0)) {
      // Never ?force=true: a repository that still owns images keeps them (and their access rules); say so.
      const r = await this.call('DELETE', `/api/repository/${id}`).catch((e: Error) => e);
      if (r instanceof Error || ![200, 202, 204, 404].includes(r.status)) {
        problems.push(`repository ${repository} (id ${id}) not deleted: ${r instanceof Error ? r.message : `HTTP ${r.status} ${r.text().slice(0, 160)}`}`);
      }
    }
    for (const u of this.users.splice(0)) {
      const r = await this.call('DELETE', `/api/users/${u}`).catch((e: Error) => e);
      if (r instanceof Error || ![200, 202, 204, 404].includes(r.status)) problems.push(`delete user ${u}: ${r instanceof Error ? r.message : r.status}`);
    }
    return problems;
  }
}
