// The hooks adapter: each setup action is a shell command or an HTTP call declared in the config file, so a
// registry maintainer wires their registry in without writing TypeScript (see conformance/README.md "Hooks").
// Values reach a command as NC_* environment variables (never argv: passwords and tokens are among them) and an
// HTTP call through ${NC_*} placeholders. A command exiting 3, or an HTTP call answering 501, means "this registry
// cannot do that" (the check is skipped, saying so); any other failure is a harness error.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Credentials } from '../config.js';
import { SetupUnsupported, type GcReport, type PushRules, type RepoStats, type Role, type SetupAdapter, type SetupRepository } from './adapter.js';

export const HOOK_ACTIONS = ['create_user', 'delete_user', 'create_token', 'set_member', 'create_repository', 'delete_repository', 'gc', 'stats'] as const;
export type HookAction = (typeof HOOK_ACTIONS)[number];

export interface HttpHook {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Sent as is after ${NC_*} substitution. */
  body?: string;
  /** Sent as JSON after ${NC_*} substitution inside its string values (safe for any password). */
  body_json?: unknown;
}

export interface Hook {
  command?: string;
  http?: HttpHook;
}

export interface HooksConfig {
  /** Extra environment for every command (e.g. an admin token the commands use). */
  env: Record<string, string>;
  /** Seconds a hook may take. */
  timeoutSeconds: number;
  actions: Partial<Record<HookAction, Hook>>;
}

/** Validate `setup.hooks` from the config file; `legacyGcCommand` is the old `gc.command`. */
export function parseHooks(raw: unknown, legacyGcCommand?: string): HooksConfig | undefined {
  if (raw === undefined || raw === null) return legacyGcCommand ? { env: {}, timeoutSeconds: 120, actions: { gc: { command: legacyGcCommand } } } : undefined;
  if (typeof raw !== 'object') throw new Error('setup.hooks must be a mapping of action → { command | http }');
  const o = raw as Record<string, unknown>;
  const actions: HooksConfig['actions'] = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'env' || k === 'timeout_seconds') continue;
    if (!(HOOK_ACTIONS as readonly string[]).includes(k)) throw new Error(`setup.hooks.${k}: unknown action (known: ${HOOK_ACTIONS.join(', ')})`);
    const h = v as Hook;
    if (!h || (typeof h.command !== 'string' && (typeof h.http !== 'object' || typeof h.http?.url !== 'string'))) {
      throw new Error(`setup.hooks.${k} needs command: "…" or http: { method, url, … }`);
    }
    actions[k as HookAction] = h;
  }
  if (legacyGcCommand && !actions.gc) actions.gc = { command: legacyGcCommand };
  const env = (o.env ?? {}) as Record<string, string>;
  return { env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])), timeoutSeconds: Number(o.timeout_seconds ?? 120), actions };
}

const subst = (s: string, vars: Record<string, string>) => s.replace(/\$\{(NC_[A-Z_]+)\}/g, (_, k: string) => vars[k] ?? '');
const substDeep = (v: unknown, vars: Record<string, string>): unknown =>
  typeof v === 'string' ? subst(v, vars) : Array.isArray(v) ? v.map((x) => substDeep(x, vars)) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substDeep(x, vars)])) : v;

export class HooksAdapter implements SetupAdapter {
  readonly kind = 'hooks';
  private users: string[] = [];
  private repos: SetupRepository[] = [];

  constructor(
    private readonly cfg: HooksConfig,
    private readonly runId: string,
  ) {
    const has = (a: HookAction) => !!cfg.actions[a];
    if (!has('create_user')) this.createUser = undefined;
    if (!has('create_token')) this.createToken = undefined;
    if (!has('set_member')) this.setMember = undefined;
    if (!has('create_repository')) this.createRepository = undefined;
    if (!has('gc')) this.gc = undefined;
    if (!has('stats')) this.stats = undefined;
    const gc = cfg.actions.gc;
    this.gcDryRun = !!gc && (gc.command ? gc.command.includes('{dryRun}') || gc.command.includes('NC_DRY_RUN') : true);
  }

  readonly gcDryRun: boolean;

  /** Run one hook; resolves with its output (stdout or response body). */
  async run(action: HookAction, vars: Record<string, string>): Promise<string> {
    const hook = this.cfg.actions[action];
    if (!hook) throw new SetupUnsupported(`no ${action} hook configured`);
    const all = { NC_RUN_ID: this.runId, ...vars };
    if (hook.command) {
      const cmd = hook.command.replace('{dryRun}', vars.NC_DRY_RUN === 'true' ? '--dry-run' : '');
      return new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', cmd], { env: { ...process.env, ...this.cfg.env, ...all }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
        const timer = setTimeout(() => child.kill('SIGKILL'), this.cfg.timeoutSeconds * 1000);
        child.on('error', (e) => reject(new Error(`${action} hook: ${e.message}`)));
        child.on('close', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve(out.trim());
          else if (code === 3) reject(new SetupUnsupported(`${action} hook: ${(err.trim() || out.trim() || 'not supported by this registry').slice(-300)}`));
          else reject(new Error(`${action} hook exited ${code}: ${err.trim().slice(-500)}`));
        });
      });
    }
    const h = hook.http!;
    const headers = Object.fromEntries(Object.entries(h.headers ?? {}).map(([k, v]) => [k, subst(String(v), all)]));
    let body: string | undefined;
    if (h.body_json !== undefined) {
      body = JSON.stringify(substDeep(h.body_json, all));
      headers['content-type'] ??= 'application/json';
    } else if (h.body !== undefined) body = subst(h.body, all);
    const res = await fetch(subst(h.url, all), { method: h.method ?? 'POST', headers, body, signal: AbortSignal.timeout(this.cfg.timeoutSeconds * 1000) });
    const text = await res.text();
    if (res.status === 501) throw new SetupUnsupported(`${action} hook: HTTP 501 ${text.slice(0, 200)}`);
    if (!res.ok) throw new Error(`${action} hook: HTTP ${res.status} ${text.slice(0, 300)}`);
    return text.trim();
  }

  createUser? = async (username: string, password: string): Promise<Credentials> => {
    await this.run('create_user', { NC_USERNAME: username, NC_PASSWORD: password });
    this.users.push(username);
    return { username, password };
  };

  createToken? = async (username: string, name: string, opts: { expiresIn?: number } = {}): Promise<string> => {
    const out = await this.run('create_token', { NC_USERNAME: username, NC_TOKEN_NAME: name, NC_EXPIRES_IN: opts.expiresIn === undefined ? '' : String(opts.expiresIn) });
    let token = out;
    try {
      const j = JSON.parse(out) as { token?: string };
      if (typeof j?.token === 'string') token = j.token;
    } catch {
      /* plain text */
    }
    if (!token) throw new Error('create_token hook printed no token');
    return token;
  };

  setMember? = async (repository: string, username: string, role: Role): Promise<void> => {
    await this.run('set_member', { NC_REPOSITORY: repository, NC_USERNAME: username, NC_ROLE: role });
  };

  createRepository? = async (slug: string, rules: Partial<PushRules>, publicKeys: string[] = []): Promise<SetupRepository> => {
    const repository = `nc${this.runId}-${slug}-${randomBytes(2).toString('hex')}`;
    const out = await this.run('create_repository', { NC_REPOSITORY: repository, NC_RULES: JSON.stringify(rules), NC_PUBLIC_KEYS: JSON.stringify(publicKeys) });
    let id: string | undefined;
    try {
      const j = JSON.parse(out) as { id?: unknown };
      if (j?.id !== undefined) id = String(j.id);
    } catch {
      if (out) id = out;
    }
    const r = { repository, id, image: `${repository}/app` };
    this.repos.push(r);
    return r;
  };

  gc? = async (target: SetupRepository, opts: { dryRun: boolean; graceSeconds: number }): Promise<GcReport | undefined> => {
    const out = await this.run('gc', { NC_REPOSITORY: target.repository, NC_REPOSITORY_ID: target.id ?? '', NC_DRY_RUN: String(opts.dryRun), NC_GRACE_SECONDS: String(opts.graceSeconds) });
    try {
      const j = JSON.parse(out) as GcReport;
      return typeof j?.blobs_deleted === 'number' ? j : undefined;
    } catch {
      return undefined;
    }
  };

  stats? = async (target: SetupRepository): Promise<RepoStats> => {
    const out = await this.run('stats', { NC_REPOSITORY: target.repository, NC_REPOSITORY_ID: target.id ?? '' });
    return JSON.parse(out) as RepoStats;
  };

  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    if (this.cfg.actions.delete_repository) {
      for (const r of this.repos.splice(0)) {
        await this.run('delete_repository', { NC_REPOSITORY: r.repository, NC_REPOSITORY_ID: r.id ?? '' }).catch((e: Error) => problems.push(`repository ${r.repository}: ${e.message}`));
      }
    } else if (this.repos.length) problems.push(`repositories ${this.repos.map((r) => r.repository).join(', ')}: no delete_repository hook`);
    if (this.cfg.actions.delete_user) {
      for (const u of this.users.splice(0)) await this.run('delete_user', { NC_USERNAME: u }).catch((e: Error) => problems.push(`user ${u}: ${e.message}`));
    } else if (this.users.length) problems.push(`users ${this.users.join(', ')}: no delete_user hook`);
    return problems;
  }
}
