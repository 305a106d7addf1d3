// The suite's only way to talk to a registry: fetch over HTTP, every exchange recorded (redacted) for reports.
// Response bodies are always consumed (buffered up to a cap, or streamed through a digest), so sockets are reused.
import { createHash } from 'node:crypto';
import { RegistryFailure } from '../harness/types.js';
import { AuthSession, basicHeader, parseChallenge, scopeFor } from './auth.js';
import type { Ledger } from './ledger.js';
import { redactBody, redactHeader, redactUrl } from './redact.js';
import { headBodyLength, type Transport } from './transport.js';

export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody?: string;
  status: number | null;
  responseHeaders: Record<string, string>;
  responseBody?: string;
  durationMs: number;
  error?: string;
}

export type Body = Buffer | string | AsyncIterable<Uint8Array> | undefined;

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** buffer: keep the body (capped); digest: stream it through sha256 and keep only digest and length. */
  read?: 'buffer' | 'digest';
  /** none: send no credentials at all, even if the registry challenges. */
  auth?: 'auto' | 'none';
  /** Extra token scopes, e.g. the source repository of a cross-repo mount. */
  extraScopes?: string[];
  /** Use exactly this Authorization header value (auth checks). */
  authorization?: string;
  followRedirects?: boolean;
}

export interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  /** sha256 digest of the full body (always computed). */
  digest: string;
  length: number;
  url: string;
  text(): string;
  json<T = any>(): T | undefined;
}

/** Headers worth showing in a transcript; the rest are noise. */
const SHOWN_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'range',
  'location',
  'docker-content-digest',
  'docker-distribution-api-version',
  'docker-upload-uuid',
  'www-authenticate',
  'link',
  'oci-subject',
  'oci-filters-applied',
  'oci-chunk-min-length',
];

const BUFFER_CAP = 16 * 1024 * 1024;
const EXCERPT = 2048;

export interface ClientOptions {
  baseUrl: string;
  session: AuthSession;
  transcript: Exchange[];
  timeoutMs: number;
  debug?: boolean;
  /** Aborts every request of this client (a check's timeout). */
  signal?: AbortSignal;
  /** Records what was pushed, for the cleanup at the end of the run. */
  ledger?: Ledger;
  /** fetch with the configured CA certificates / TLS verification. */
  transport?: Transport;
}

function isReplayable(b: Body): b is Buffer | string | undefined {
  return b === undefined || typeof b === 'string' || Buffer.isBuffer(b);
}

function excerptOf(b: Body, contentType: string | undefined): string | undefined {
  if (b === undefined) return undefined;
  if (!isReplayable(b)) return '<streamed body>';
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  const textual = /json|text|x-www-form-urlencoded/.test(contentType ?? '') || buf[0] === 0x7b;
  if (!textual) return `<${buf.length} bytes>`;
  const s = buf.subarray(0, EXCERPT).toString('utf8');
  return redactBody(s) + (buf.length > EXCERPT ? `… (${buf.length} bytes)` : '');
}

export class HttpClient {
  constructor(readonly opts: ClientOptions) {}

  get baseUrl(): string {
    return this.opts.baseUrl;
  }
  get session(): AuthSession {
    return this.opts.session;
  }

  /** The same registry and transcript, another identity. */
  withSession(session: AuthSession): HttpClient {
    return new HttpClient({ ...this.opts, session });
  }

  /**
   * Bytes a HEAD response carries after its headers, read from the raw socket (fetch never exposes a HEAD body,
   * so a registry sending one would go unnoticed through it). Recorded in the transcript like any exchange.
   */
  async headBody(pathOrUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; bodyBytes: number }> {
    const url = this.resolve(pathOrUrl);
    const h: Record<string, string> = { ...headers };
    const a = await this.authorizationFor('HEAD', url);
    if (a) h.authorization = a;
    const started = Date.now();
    const ex: Exchange = { method: 'HEAD', url: redactUrl(url.toString()) + ' (raw socket)', requestHeaders: Object.fromEntries(Object.entries(h).map(([k, v]) => [k, redactHeader(k, v)])), status: null, responseHeaders: {}, durationMs: 0 };
    this.opts.transcript.push(ex);
    const r = await headBodyLength(url, h, this.opts.transport, this.opts.signal ? AbortSignal.any([this.opts.signal, AbortSignal.timeout(this.opts.timeoutMs)]) : AbortSignal.timeout(this.opts.timeoutMs));
    ex.status = r.status;
    ex.responseBody = r.bodyBytes ? `<${r.bodyBytes} bytes after the HEAD response's headers>` : undefined;
    ex.durationMs = Date.now() - started;
    return r;
  }

  resolve(pathOrUrl: string): URL {
    return new URL(pathOrUrl, this.opts.baseUrl + '/');
  }

  /** Authorization header for a request, fetching a bearer token when the registry uses token auth. */
  async authorizationFor(method: string, url: URL, extraScopes: string[] = [], challengeScope?: string): Promise<string | undefined> {
    const s = this.opts.session;
    const ch = s.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return s.credentials ? basicHeader(s.credentials) : undefined;
    // After a 401, the scope the registry's challenge names is what it wants (e.g. `delete` to cancel an upload).
    const scope = challengeScope ? [challengeScope, ...extraScopes].join(' ') : scopeFor(method, url.pathname, extraScopes);
    const cached = s.cachedToken(scope);
    if (cached) return `Bearer ${cached}`;
    const token = await this.fetchToken(scope);
    return token ? `Bearer ${token}` : undefined;
  }

  /**
   * A token for `scope`: first an OAuth2 password grant (keeping the refresh token), then refresh-token grants;
   * when the realm does not do OAuth2, a Docker-token-spec GET with Basic credentials.
   */
  async fetchToken(scope: string, creds = this.opts.session.credentials): Promise<string | undefined> {
    const s = this.opts.session;
    const ch = s.challenge;
    if (!ch?.realm) return undefined;
    // `docker login` stored an identity token instead of a password: it is an OAuth2 refresh token.
    if (creds?.identityToken && !s.refreshToken) s.refreshToken = creds.identityToken;
    if (creds && s.refreshToken !== null) {
      const realm = new URL(ch.realm, this.opts.baseUrl);
      const form: Record<string, string> = { service: ch.service ?? '', scope, client_id: 'nitro-conformance' };
      if (s.refreshToken) Object.assign(form, { grant_type: 'refresh_token', refresh_token: s.refreshToken });
      else Object.assign(form, { grant_type: 'password', username: creds.username, password: creds.password, access_type: 'offline' });
      const res = await this.raw('POST', realm, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      const j = res.status === 200 ? res.json<{ access_token?: string; token?: string; refresh_token?: string; expires_in?: number }>() : undefined;
      const token = j?.access_token ?? j?.token;
      if (token) {
        if (j?.refresh_token) s.refreshToken = j.refresh_token;
        else if (!s.refreshToken) s.refreshToken = null;
        s.storeToken(scope, token, j?.expires_in);
        return token;
      }
      if (creds.identityToken) return undefined; // no password to fall back on
      s.refreshToken = null;
    }
    const u = new URL(ch.realm, this.opts.baseUrl);
    if (ch.service) u.searchParams.set('service', ch.service);
    for (const sc of scope.split(' ').filter(Boolean)) u.searchParams.append('scope', sc);
    const res = await this.raw('GET', u, {
      headers: creds ? { authorization: basicHeader(creds) } : {},
    });
    if (res.status !== 200) return undefined;
    const j = res.json<{ token?: string; access_token?: string; expires_in?: number }>();
    const token = j?.token ?? j?.access_token;
    if (token) this.opts.session.storeToken(scope, token, j?.expires_in);
    return token;
  }

  async request(method: string, pathOrUrl: string, o: RequestOptions = {}): Promise<Res> {
    let url = this.resolve(pathOrUrl);
    const wantAuth = (o.auth ?? 'auto') === 'auto';
    const follow = o.followRedirects ?? (method === 'GET' || method === 'HEAD');
    let challengeScope: string | undefined;
    const build = async (): Promise<Record<string, string>> => {
      const h: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.authorization) h.authorization = o.authorization;
      else if (wantAuth) {
        const a = await this.authorizationFor(method, url, o.extraScopes, challengeScope);
        if (a) h.authorization = a;
      }
      return h;
    };
    let res = await this.raw(method, url, { headers: await build(), body: o.body, read: o.read });
    // Learn the challenge on the first 401 and retry once when the body can be sent again.
    if (res.status === 401 && wantAuth && !o.authorization && isReplayable(o.body)) {
      const hadToken = this.opts.session.challenge?.scheme === 'bearer';
      this.opts.session.learn(res.headers.get('www-authenticate'));
      if (hadToken) challengeScope = parseChallenge(res.headers.get('www-authenticate'))?.scope;
      const ch = this.opts.session.challenge;
      // Bearer: try a token (anonymous ones too); Basic: only worth retrying with credentials.
      if (ch?.scheme === 'bearer' || (ch?.scheme === 'basic' && this.opts.session.credentials)) {
        res = await this.raw(method, url, { headers: await build(), body: o.body, read: o.read });
      }
    }
    for (let hops = 0; follow && hops < 5 && [301, 302, 303, 307, 308].includes(res.status); hops++) {
      const loc = res.headers.get('location');
      if (!loc) break;
      const next = new URL(loc, url);
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      // Credentials stay with the registry's origin (blob storage redirects must not see them).
      if (next.origin === this.resolve('/').origin) Object.assign(headers, await build());
      url = next;
      res = await this.raw(method, url, { headers, read: o.read });
    }
    return res;
  }

  /** One HTTP exchange, recorded. */
  async raw(
    method: string,
    url: URL,
    o: { headers?: Record<string, string>; body?: Body; read?: 'buffer' | 'digest' },
  ): Promise<Res> {
    const started = Date.now();
    const headers = o.headers ?? {};
    const ex: Exchange = {
      method,
      url: redactUrl(url.toString()),
      requestHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), redactHeader(k, v)])),
      requestBody: excerptOf(o.body, headers['content-type'] ?? headers['Content-Type']),
      status: null,
      responseHeaders: {},
      durationMs: 0,
    };
    this.opts.transcript.push(ex);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers,
      redirect: 'manual',
      signal: this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout,
    };
    if (o.body !== undefined) {
      if (isReplayable(o.body)) init.body = o.body;
      else {
        init.body = ReadableStream.from(o.body) as unknown as RequestInit["body"];
        init.duplex = 'half';
      }
    }
    let response: Response;
    try {
      response = await (this.opts.transport?.fetch ?? fetch)(url, init);
    } catch (e) {
      ex.error = (e as Error).message + ((e as any).cause ? `: ${(e as any).cause.message ?? (e as any).cause}` : '');
      ex.durationMs = Date.now() - started;
      this.debug(ex);
      throw new Error(`${method} ${url} failed: ${ex.error}`);
    }
    ex.status = response.status;
    for (const h of SHOWN_HEADERS) {
      const v = response.headers.get(h);
      if (v !== null) ex.responseHeaders[h] = redactHeader(h, v);
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let length = 0;
    let kept = 0;
    if (response.body) {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          hash.update(b);
          length += b.length;
          if (o.read !== 'digest' && kept < BUFFER_CAP) {
            chunks.push(b);
            kept += b.length;
          }
        }
      } catch (e) {
        // The status line arrived but the body broke off (e.g. Content-Length larger than what was sent).
        ex.error = `response body cut short after ${length} bytes: ${(e as Error).message}`;
        ex.durationMs = Date.now() - started;
        this.debug(ex);
        throw new RegistryFailure(`${method} ${url.pathname}: HTTP ${response.status}, ${ex.error}`);
      }
    }
    const body = Buffer.concat(chunks);
    this.opts.ledger?.record(method, url, response.status, response.headers, isReplayable(o.body) ? o.body : undefined);
    const ct = response.headers.get('content-type') ?? '';
    if (o.read !== 'digest' && length > 0) {
      const textual = /json|text|xml|html/.test(ct) || response.status >= 400 || body[0] === 0x7b;
      ex.responseBody = textual
        ? // Redact the whole text first, then cut: a secret straddling the cut would escape the pattern.
          redactBody(body.toString('utf8')).slice(0, EXCERPT) + (length > EXCERPT ? `… (${length} bytes)` : '')
        : `<${length} bytes>`;
    } else if (length > 0) ex.responseBody = `<${length} bytes streamed>`;
    ex.durationMs = Date.now() - started;
    this.debug(ex);
    const digest = 'sha256:' + hash.digest('hex');
    return {
      status: response.status,
      headers: response.headers,
      body,
      digest,
      length,
      url: url.toString(),
      text: () => body.toString('utf8'),
      json: <T>() => {
        try {
          return JSON.parse(body.toString('utf8')) as T;
        } catch {
          return undefined;
        }
      },
    };
  }

  private debug(ex: Exchange): void {
    if (!this.opts.debug) return;
    process.stderr.write(`[oci-debug] ${ex.method} ${ex.url} -> ${ex.status ?? ex.error} (${ex.durationMs} ms)\n`);
  }
}
