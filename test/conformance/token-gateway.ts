// A minimal Docker-token-auth front for CNCF Distribution, written independently of the suite, so the suite's
// auth checks can be proven against a known-good token flow (GET/POST token, OAuth2 password + refresh,
// scope-limited HMAC tokens, challenges with scope) before and besides the reference server.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Grant {
  sub: string | null;
  access: Array<{ name: string; actions: string[] }>;
  exp: number;
}

const SERVICE = 'gateway-registry';

export async function startTokenGateway(upstream: string, users: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const up = new URL(upstream);
  const key = randomBytes(32);
  const refreshTokens = new Map<string, string>();
  const sign = (g: Grant) => {
    const body = Buffer.from(JSON.stringify(g)).toString('base64url');
    return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
  };
  const verify = (tok: string): Grant | undefined => {
    const [body, mac] = tok.split('.');
    if (!body || !mac) return undefined;
    const want = Buffer.from(createHmac('sha256', key).update(body).digest('base64url'));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    const g = JSON.parse(Buffer.from(body, 'base64url').toString()) as Grant;
    return g.exp > Date.now() / 1000 ? g : undefined;
  };
  const basicUser = (req: IncomingMessage): string | null | false => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Basic ')) return null;
    const raw = Buffer.from(h.slice(6), 'base64').toString();
    const i = raw.indexOf(':');
    const [u, p] = [raw.slice(0, i), raw.slice(i + 1)];
    return users[u] !== undefined && users[u] === p ? u : false;
  };
  const grantFor = (sub: string | null, scopes: string[]): Grant => {
    const access: Grant['access'] = [];
    for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
      const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
      if (!m) continue;
      const allowed = sub ? ['pull', 'push', 'delete'] : ['pull'];
      const actions = m[2]!.split(',').filter((a) => allowed.includes(a));
      if (actions.length) access.push({ name: m[1]!, actions });
    }
    return { sub, access, exp: Math.floor(Date.now() / 1000) + 300 };
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const issue = (res: ServerResponse, g: Grant, refresh?: boolean) => {
    const token = sign(g);
    const out: Record<string, unknown> = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    if (refresh && g.sub) {
      const r = randomBytes(24).toString('base64url');
      refreshTokens.set(r, g.sub);
      out.refresh_token = r;
    }
    json(res, 200, out);
  };
  const readForm = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString());
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gw.invalid');
    const realm = `http://${req.headers.host}/token`;
    if (url.pathname === '/token') {
      if (req.method === 'GET') {
        const u = basicUser(req);
        if (u === false) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
        return issue(res, grantFor(u, url.searchParams.getAll('scope')), url.searchParams.get('offline_token') === 'true');
      }
      const form = await readForm(req);
      const scopes = form.getAll('scope');
      const grantType = form.get('grant_type');
      if (grantType === 'password') {
        const u = form.get('username') ?? '';
        if (users[u] === undefined || users[u] !== form.get('password')) return json(res, 401, { error: 'invalid_grant' });
        return issue(res, grantFor(u, scopes), form.get('access_type') === 'offline');
      }
      if (grantType === 'refresh_token') {
        const sub = refreshTokens.get(form.get('refresh_token') ?? '');
        if (!sub) return json(res, 400, { error: 'invalid_grant' });
        return issue(res, grantFor(sub, scopes));
      }
      const u = basicUser(req);
      if (!u) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'credentials required' }] });
      return issue(res, grantFor(u, scopes));
    }
    // Registry API: a valid token covering the repository and action, else a challenge naming the scope.
    const m = /^\/v2\/(.+?)\/(blobs|manifests|tags|referrers)(\/|$)/.exec(url.pathname);
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : req.method === 'DELETE' ? 'delete' : 'push';
    const need = m ? { name: m[1]!, actions: action === 'push' ? ['pull', 'push'] : [action] } : undefined;
    const auth = req.headers.authorization;
    const g = auth?.startsWith('Bearer ') ? verify(auth.slice(7)) : undefined;
    const ok = g && (!need || need.actions.every((a) => g.access.some((x) => x.name === need.name && x.actions.includes(a))));
    if (!ok || (!need && url.pathname.startsWith('/v2/_catalog') && !g?.sub)) {
      req.resume();
      const scope = need ? `,scope="repository:${need.name}:${need.actions.join(',')}"` : '';
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer realm="${realm}",service="${SERVICE}"${scope}`, 'docker-distribution-api-version': 'registry/2.0' });
      return res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const fwd = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    fwd.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(e.message);
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
