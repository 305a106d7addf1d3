// A small Docker-token-spec issuer for CNCF Distribution 2.8's `auth: token`, written for the tests: JWTs signed
// (ES256) by a key whose self-signed certificate Distribution trusts through `rootcertbundle`. 2.8 verifies a token
// by its `x5c` chain (token.go: x5c, then jwk, then kid as a libtrust key id), checks iss, aud (= service),
// exp/nbf with 60 s leeway, and the `access` claim. Users, access tokens, members and members-only repositories are
// administered over a small HTTP API the suite's setup hooks call (admin secret in a header).
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';

export const ISSUER = 'nitro-test-issuer';
export const SERVICE = 'nitro-test-registry';

interface User {
  password: string;
  tokens: Map<string, number | null>;
}

export interface TokenIssuer {
  url: string;
  realm: string;
  certPath: string;
  /** Header the admin API wants: `x-admin-secret: <adminSecret>`. */
  adminSecret: string;
  close(): Promise<void>;
}

/** Write key and certificate into `dir` (openssl: Node has no certificate generator). */
function makeCert(dir: string): { keyPem: string; certPath: string; certDerB64: string } {
  const key = join(dir, 'issuer.key');
  const cert = join(dir, 'issuer.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${ISSUER}`], { stdio: 'ignore' });
  const pem = readFileSync(cert, 'utf8');
  const certDerB64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return { keyPem: readFileSync(key, 'utf8'), certPath: cert, certDerB64 };
}

export async function startTokenIssuer(dir: string, admin: { username: string; password: string }): Promise<TokenIssuer> {
  const { keyPem, certPath, certDerB64 } = makeCert(dir);
  const key = createPrivateKey(keyPem);
  const adminSecret = randomBytes(16).toString('hex');
  const users = new Map<string, User>([[admin.username, { password: admin.password, tokens: new Map() }]]);
  /** Members-only repositories: name → (user → role). Everything else: any signed-in user may pull/push/delete. */
  const membersOnly = new Map<string, Map<string, string>>();
  const refresh = new Map<string, string>();

  const eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  const authenticate = (username: string, secret: string): string | undefined => {
    const u = users.get(username);
    if (!u) return undefined;
    if (eq(u.password, secret)) return username;
    const exp = u.tokens.get(secret);
    if (exp === undefined) return undefined;
    return exp === null || exp > Date.now() ? username : undefined;
  };
  const basic = (req: IncomingMessage): string | null | false => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Basic ')) return null;
    const raw = Buffer.from(h.slice(6), 'base64').toString();
    const i = raw.indexOf(':');
    return authenticate(raw.slice(0, i), raw.slice(i + 1)) ?? false;
  };
  const allowed = (sub: string | null, repo: string): string[] => {
    if (!sub) return [];
    const owner = [...membersOnly.keys()].find((r) => repo === r || repo.startsWith(r + '/'));
    if (!owner) return ['pull', 'push', 'delete'];
    const role = membersOnly.get(owner)!.get(sub) ?? (sub === admin.username ? 'admin' : undefined);
    return role === 'admin' ? ['pull', 'push', 'delete'] : role === 'write' ? ['pull', 'push'] : role === 'read' ? ['pull'] : [];
  };
  const access = (sub: string | null, scopes: string[]) => {
    const out: Array<{ type: string; name: string; actions: string[] }> = [];
    for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
      const m = /^(repository|registry):(.+):([a-z*,]+)$/.exec(s);
      if (!m) continue;
      if (m[1] === 'registry') {
        if (sub === admin.username && m[2] === 'catalog') out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      const may = allowed(sub, m[2]!);
      const actions = m[3]!.split(',').filter((a) => may.includes(a));
      if (actions.length) out.push({ type: 'repository', name: m[2]!, actions });
    }
    return out;
  };
  const sign = async (sub: string | null, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access: access(sub, scopes) })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [certDerB64] })
      .setIssuer(ISSUER)
      .setSubject(sub ?? '')
      .setAudience(SERVICE)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const issue = async (res: ServerResponse, sub: string | null, scopes: string[], offline: boolean) => {
    const token = await sign(sub, scopes);
    const body: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    if (offline && sub) {
      const r = randomBytes(24).toString('base64url');
      refresh.set(r, sub);
      body.refresh_token = r;
    }
    json(res, 200, body);
  };
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://issuer.invalid');
      if (url.pathname === '/token') {
        if (req.method === 'GET') {
          const u = basic(req);
          if (u === false) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
          return issue(res, u, url.searchParams.getAll('scope'), url.searchParams.get('offline_token') === 'true');
        }
        const form = new URLSearchParams(await body(req));
        const scopes = form.getAll('scope');
        const grant = form.get('grant_type');
        if (grant === 'password') {
          const u = authenticate(form.get('username') ?? '', form.get('password') ?? '');
          if (!u) return json(res, 401, { error: 'invalid_grant' });
          return issue(res, u, scopes, form.get('access_type') === 'offline');
        }
        if (grant === 'refresh_token') {
          const sub = refresh.get(form.get('refresh_token') ?? '');
          if (!sub || !users.has(sub)) return json(res, 400, { error: 'invalid_grant' });
          return issue(res, sub, scopes, false);
        }
        const u = basic(req);
        if (!u) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'credentials required' }] });
        return issue(res, u, scopes, false);
      }
      // Admin API for the suite's setup hooks.
      if (!url.pathname.startsWith('/admin/')) return json(res, 404, {});
      const secret = String(req.headers['x-admin-secret'] ?? '');
      if (!eq(secret, adminSecret)) return json(res, 403, { error: 'admin secret required' });
      const b = req.method === 'GET' || req.method === 'DELETE' ? {} : (JSON.parse((await body(req)) || '{}') as Record<string, any>);
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && url.pathname === '/admin/users') {
        if (users.has(b.username)) return json(res, 409, { error: 'exists' });
        users.set(b.username, { password: b.password, tokens: new Map() });
        return json(res, 201, { username: b.username });
      }
      if ((m = /^\/admin\/users\/([^/]+)$/.exec(url.pathname)) && req.method === 'DELETE') {
        users.delete(decodeURIComponent(m[1]!));
        return json(res, 204, {});
      }
      if ((m = /^\/admin\/users\/([^/]+)\/tokens$/.exec(url.pathname)) && req.method === 'POST') {
        const u = users.get(decodeURIComponent(m[1]!));
        if (!u) return json(res, 404, { error: 'no such user' });
        const token = `pat_${randomBytes(18).toString('base64url')}`;
        const secs = Number(b.expires_in);
        u.tokens.set(token, b.expires_in !== undefined && b.expires_in !== '' && Number.isFinite(secs) ? Date.now() + secs * 1000 : null);
        return json(res, 201, { token });
      }
      if (req.method === 'POST' && url.pathname === '/admin/repositories') {
        const rules = (typeof b.rules === 'string' ? JSON.parse(b.rules || '{}') : b.rules ?? {}) as Record<string, boolean>;
        // A rule is "on" when true, except allow_tag_overwrite, which restricts when false.
        const wanted = Object.entries(rules).filter(([k, v]) => (k === 'allow_tag_overwrite' ? v === false : v)).map(([k]) => k);
        const unsupported = wanted.filter((r) => r !== 'must_be_project_member');
        // Distribution has no push rules: only "members only" can be done here, by what the issuer grants.
        if (unsupported.length) return json(res, 501, { error: `this registry cannot enforce ${unsupported.join(', ')}` });
        membersOnly.set(b.name, new Map());
        return json(res, 201, { id: b.name });
      }
      if ((m = /^\/admin\/repositories\/(.+)$/.exec(url.pathname)) && req.method === 'DELETE') {
        membersOnly.delete(decodeURIComponent(m[1]!));
        return json(res, 204, {});
      }
      if (req.method === 'PUT' && url.pathname === '/admin/members') {
        const r = membersOnly.get(b.repository) ?? new Map<string, string>();
        membersOnly.set(b.repository, r);
        r.set(b.username, b.role);
        return json(res, 200, {});
      }
      return json(res, 404, { error: 'unknown admin route' });
    } catch (e) {
      if (!res.headersSent) json(res, 500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    realm: `${url}/token`,
    certPath,
    adminSecret,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The suite's setup hooks for this issuer plus Distribution's offline GC: the config file's `setup:` section. */
export function hooksYaml(issuer: TokenIssuer, gcCommand: string): string {
  const h = (method: string, path: string, bodyJson?: string) =>
    `{ http: { method: ${method}, url: "${issuer.url}${path}", headers: { x-admin-secret: "${issuer.adminSecret}" }${bodyJson ? `, body_json: ${bodyJson}` : ''} } }`;
  return [
    'setup:',
    '  adapter: hooks',
    '  hooks:',
    `    create_user: ${h('POST', '/admin/users', '{ username: "${NC_USERNAME}", password: "${NC_PASSWORD}" }')}`,
    `    delete_user: ${h('DELETE', '/admin/users/${NC_USERNAME}')}`,
    `    create_token: ${h('POST', '/admin/users/${NC_USERNAME}/tokens', '{ name: "${NC_TOKEN_NAME}", expires_in: "${NC_EXPIRES_IN}" }')}`,
    `    set_member: ${h('PUT', '/admin/members', '{ repository: "${NC_REPOSITORY}", username: "${NC_USERNAME}", role: "${NC_ROLE}" }')}`,
    `    create_repository: ${h('POST', '/admin/repositories', '{ name: "${NC_REPOSITORY}", rules: "${NC_RULES}" }')}`,
    `    delete_repository: ${h('DELETE', '/admin/repositories/${NC_REPOSITORY}')}`,
    `    gc: { command: "${gcCommand}" }`,
    '',
  ].join('\n');
}
