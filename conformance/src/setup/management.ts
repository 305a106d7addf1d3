// The Nitro management API (/api/…): detected by probing, used to provision users, tokens, repositories with push
// rules, and to trigger GC. Everything created is remembered and removed by cleanup().
import type { Credentials } from '../config.js';
import { basicHeader } from '../http/auth.js';
import type { HttpClient, Res } from '../http/client.js';
import { RegistryFailure } from '../harness/types.js';

export interface RepositoryInfo {
  id: string | number;
  name: string;
  visibility?: string;
  config?: unknown;
}

export interface GcReport {
  dry_run: boolean;
  manifests_deleted: number;
  blobs_deleted: number;
  bytes_freed: number;
  uploads_purged: number;
  duration_ms: number;
}

export interface RepoStats {
  repository_id: string | number;
  name: string;
  total_images: number;
  total_tags: number;
  total_manifests: number;
  total_blobs: number;
  storage_used: number;
  last_push: string | null;
  last_gc: string | null;
}

export interface PushRules {
  allow_tag_overwrite: boolean;
  must_be_project_member: boolean;
  must_use_auth_token_for_push: boolean;
  require_content_trust: boolean;
}

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

export class ManagementSession {
  private users: string[] = [];
  private repos: Array<string | number> = [];
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

  async createUser(username: string, password: string, admin = false): Promise<Credentials> {
    this.ok(await this.call('POST', '/api/users', { username, password, admin }), `create user ${username}`);
    this.users.push(username);
    return { username, password };
  }

  async createToken(username: string, name: string, opts: { scopes?: string[]; expires_in?: number } = {}): Promise<string> {
    const res = this.ok(await this.call('POST', `/api/users/${username}/tokens`, { name, ...opts }), `create token for ${username}`);
    const token = res.json<{ token?: string }>()?.token;
    if (!token) throw new RegistryFailure(`management API: token response for ${username} has no "token"`);
    return token;
  }

  async setMember(project: string, username: string, role: 'read' | 'write' | 'admin'): Promise<void> {
    this.ok(await this.call('PUT', `/api/projects/${project}/members/${username}`, { role }), `add ${username} to ${project}`);
  }

  async createRepository(name: string, rules: Partial<PushRules> = {}, publicKeys: string[] = [], visibility = 'private'): Promise<string | number> {
    const config = { type: 'Hosted', push_rules: { ...OPEN_RULES, ...rules }, content_trust: { public_keys: publicKeys } };
    const res = this.ok(await this.call('POST', '/api/repository', { name, visibility, config }), `create repository ${name}`);
    const id = res.json<{ id?: string | number }>()?.id;
    if (id === undefined) throw new RegistryFailure(`management API: create repository ${name} returned no id`);
    this.repos.push(id);
    return id;
  }

  async setRules(id: string | number, rules: Partial<PushRules>, publicKeys: string[] = []): Promise<void> {
    const config = { type: 'Hosted', push_rules: { ...OPEN_RULES, ...rules }, content_trust: { public_keys: publicKeys } };
    this.ok(await this.call('PUT', `/api/repository/${id}/config`, config), `set rules on repository ${id}`);
  }

  async findRepository(name: string): Promise<RepositoryInfo | undefined> {
    const res = this.ok(await this.call('GET', '/api/repository'), 'list repositories');
    return (res.json<RepositoryInfo[]>() ?? []).find((r) => r.name === name);
  }

  async gc(id: string | number, body: { dry_run: boolean; delete_untagged: boolean; grace_seconds: number }): Promise<GcReport> {
    const res = this.ok(await this.call('POST', `/api/repository/${id}/gc`, body), `gc repository ${id}`);
    const r = res.json<GcReport>();
    if (!r) throw new RegistryFailure('management API: GC answer is not JSON');
    return r;
  }

  async stats(id: string | number): Promise<RepoStats> {
    const res = this.ok(await this.call('GET', `/api/repository/${id}/stats`), `stats of repository ${id}`);
    const r = res.json<RepoStats>();
    if (!r) throw new RegistryFailure('management API: stats answer is not JSON');
    return r;
  }

  /** Remove what this run created; failures are reported, never thrown. */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const id of this.repos.splice(0)) {
      const r = await this.call('DELETE', `/api/repository/${id}?force=true`).catch((e: Error) => e);
      if (r instanceof Error || ![200, 202, 204, 404].includes(r.status)) problems.push(`delete repository ${id}: ${r instanceof Error ? r.message : r.status}`);
    }
    for (const u of this.users.splice(0)) {
      const r = await this.call('DELETE', `/api/users/${u}`).catch((e: Error) => e);
      if (r instanceof Error || ![200, 202, 204, 404].includes(r.status)) problems.push(`delete user ${u}: ${r instanceof Error ? r.message : r.status}`);
    }
    return problems;
  }
}
