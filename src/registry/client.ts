import { createHash } from 'node:crypto';
import type { Response } from 'undici';
import { ActionError } from '../errors.js';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.js';
import { apiHost, isLoopbackHost } from './image-ref.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { DEFAULT_RETRY, retryDelay, type RetryPolicy } from './retry.js';
import { RegistryError } from './registry-error.js';
import { Transport } from './transport.js';

export interface Credentials {
  username: string;
  password: string;
  /**
   * An OAuth2 refresh token (`identitytoken` in the Docker config, stored by `docker login` against
   * registries whose token endpoint issues refresh tokens). When set, tokens are asked for with
   * grant_type=refresh_token instead of Basic credentials; `password` is then usually empty.
   */
  identityToken?: string;
}

export interface RegistryClientOptions {
  /** Registry host as in image names (`127.0.0.1:5000`, `docker.io`). */
  host: string;
  /**
   * Talk plain HTTP instead of HTTPS. Without it a loopback registry (127.0.0.0/8, ::1, localhost) is
   * tried over HTTPS first and over HTTP when it answers in plain HTTP — what Docker and BuildKit do.
   */
  insecure?: boolean;
  credentials?: Credentials;
  retry?: RetryPolicy;
  /** Called before each retry, so the log explains a slow verification. */
  onRetry?: (message: string) => void;
  /** TLS trust and the overall deadline; shared by the clients of one run. Default: system CAs, 10 min. */
  transport?: Transport;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD' | 'PUT';
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Token scope, e.g. `repository:app:pull`. */
  scope: string;
  /** A 404 here may be read-after-write lag (a manifest that was just pushed), so retry it. */
  notFoundMayBeLag?: boolean;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** sha256 of the bytes served. */
  digest: string;
  mediaType: string | undefined;
  /** What the registry claims in Docker-Content-Digest (may be absent). */
  headerDigest: string | null;
}

/** Manifests are small JSON documents; registries cap them at a few MiB. Reading more is an error. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
/** OAuth2 client_id sent with refresh-token grants (Docker sends "docker"). */
const OAUTH_CLIENT_ID = 'nitro-registry';

export { RegistryError };

/**
 * A small client for the Distribution HTTP API: the token challenge flow (Bearer, anonymous, with Basic
 * credentials or with an identity token at the realm) and Basic auth, bounded retries for transient
 * answers, streamed blob reads, all under the transport's overall deadline.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private basicOnly = false;
  private readonly retry: RetryPolicy;
  private readonly transport: Transport;
  private scheme: 'http' | 'https';
  /** Loopback without `insecure`: HTTPS until the registry answers in plain HTTP, then HTTP for good. */
  private mayFallBackToHttp: boolean;

  constructor(private readonly options: RegistryClientOptions) {
    this.scheme = options.insecure ? 'http' : 'https';
    this.mayFallBackToHttp = !options.insecure && isLoopbackHost(options.host);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.transport = options.transport ?? new Transport();
  }

  get host(): string {
    return this.options.host;
  }

  /** `http(s)://host` as used so far (a loopback registry may have switched to http). */
  get baseUrl(): string {
    return `${this.scheme}://${apiHost(this.options.host)}`;
  }

/** Sends a request, answering one auth challenge and retrying transient failures. */
  async request(path: string, opts: RequestOptions): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res = await this.send(path, opts);
      const url = `${this.baseUrl}${path}`;
      if (res.status === 401) {
        const challenge = parseAuthChallenge(res.headers.get('www-authenticate'));
        await res.body?.cancel();
        await this.answerChallenge(challenge, opts.scope);
        res = await this.send(path, opts);
        if (res.status === 401) {
          await res.body?.cancel();
          throw new RegistryError('AUTH_FAILED', `${opts.method ?? 'GET'} ${url} answered 401 after authenticating`, 401);
        }
      }
      if (res.status === 403) {
        await res.body?.cancel();
        throw new RegistryError('ACCESS_DENIED', `${opts.method ?? 'GET'} ${url} answered 403`, 403);
      }
      const delay = retryDelay(
        { status: res.status, notFoundMayBeLag: opts.notFoundMayBeLag ?? false, retryAfter: res.headers.get('retry-after') },
        attempt,
        this.retry,
      );
      if (delay === undefined) return res;
      await res.body?.cancel();
      this.options.onRetry?.(`${opts.method ?? 'GET'} ${url} answered ${res.status}; retrying in ${delay} ms (attempt ${attempt + 1}/${this.retry.attempts})`);
      await this.transport.sleep(delay, `${opts.method ?? 'GET'} ${url}`);
    }
  }

  private async send(path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'nitro-registry-action', ...opts.headers };
    const auth = this.authorizationFor(opts.scope);
    if (auth) headers.authorization = auth;
    const url = `${this.baseUrl}${path}`;
    try {
      return await this.transport.fetch(url, { method: opts.method ?? 'GET', headers, body: opts.body, redirect: 'follow' });
    } catch (err) {
      const classified = this.classify(err, url, this.options.host);
      if (classified.code === 'PLAIN_HTTP' && this.mayFallBackToHttp) {
        // Docker and BuildKit allow plain HTTP to loopback registries without configuration; so do we.
        this.scheme = 'http';
        this.mayFallBackToHttp = false;
        this.options.onRetry?.(`${this.options.host} is a loopback registry answering in plain HTTP: using http://`);
        return this.send(path, opts);
      }
      throw classified;
    }
  }

  /** A network failure or the deadline, as the error a user can act on. */
  private classify(err: unknown, url: string, host: string): ActionError {
    if (err instanceof ActionError) return err;
    if (this.transport.isDeadline(err)) return this.transport.deadlineError(url);
    return classifyNetworkError(err, url, host);
  }

  /** Reads a body to the end, turning an abort by the deadline into TIMEOUT. */
  private async readBody<T>(url: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof ActionError) throw err;
      throw this.classify(err, url, this.options.host);
    }
  }

  private authorizationFor(scope: string): string | undefined {
    if (this.basicOnly) return this.basicHeader();
    return this.tokens.get(scope);
  }

  private basicHeader(): string | undefined {
    const c = this.options.credentials;
    // An identity token replaces the password: `docker login` stores "user:" (empty password) beside it.
    if (!c || (c.identityToken && !c.password)) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async answerChallenge(challenge: AuthChallenge | undefined, scope: string): Promise<void> {
    if (!challenge) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} answered 401 without a usable WWW-Authenticate challenge`, 401);
    const creds = this.options.credentials;
    if (challenge.scheme === 'basic') {
      if (!creds) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} requires credentials (Basic) and none were given`, 401);
      if (!this.basicHeader()) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} asks for Basic auth, but docker login stored only an identity token for it`, 401);
      this.basicOnly = true;
      return;
    }
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} sent a Bearer challenge without realm`, 401);
    const token = creds?.identityToken
      ? await this.refreshTokenGrant(new URL(realm), challenge.params.service, scope, creds.identityToken)
      : await this.tokenGet(new URL(realm), challenge.params.service, scope);
    this.tokens.set(scope, `Bearer ${token}`);
  }

  /** The Docker token protocol: GET the realm with service and scope, Basic credentials when we have them. */
  private async tokenGet(tokenUrl: URL, service: string | undefined, scope: string): Promise<string> {
    if (service) tokenUrl.searchParams.set('service', service);
    // Ask for the scope this request needs; the challenge's scope may be narrower (pull only) for a PUT.
    if (scope) tokenUrl.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': 'nitro-registry-action' };
    const basic = this.basicHeader();
    if (basic) headers.authorization = basic;
    const who = this.options.credentials ? `user "${this.options.credentials.username}"` : 'anonymous access';
    return this.tokenRequest(tokenUrl, { headers }, who);
  }

  /**
   * OAuth2 refresh-token grant (RFC 6749 §6), what Docker does with the identity token it stored: POST the
   * realm with grant_type=refresh_token. The secret travels in the body, never in the URL.
   */
  private async refreshTokenGrant(tokenUrl: URL, service: string | undefined, scope: string, refreshToken: string): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: OAUTH_CLIENT_ID });
    if (service) form.set('service', service);
    if (scope) form.set('scope', scope);
    const init = {
      method: 'POST',
      headers: { 'user-agent': 'nitro-registry-action', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    };
    return this.tokenRequest(tokenUrl, init, `the identity token docker login stored for ${this.options.host} (expired or revoked? run docker login again)`);
  }

  private async tokenRequest(tokenUrl: URL, init: { method?: string; headers: Record<string, string>; body?: string }, who: string): Promise<string> {
    const endpoint = `${tokenUrl.origin}${tokenUrl.pathname}`;
    let res: Response;
    try {
      res = await this.transport.fetch(tokenUrl, init);
    } catch (err) {
      throw this.classify(err, tokenUrl.toString(), tokenUrl.host);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RegistryError('AUTH_FAILED', `token endpoint ${endpoint} answered ${res.status} for ${who}`, res.status);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError('REGISTRY_ERROR', `token endpoint ${endpoint} answered ${res.status}`, res.status);
    }
    const body = (await this.readBody(endpoint, () => res.json())) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError('AUTH_FAILED', `token endpoint ${endpoint} returned no token`);
    return token;
  }

  /** GET /v2/ — proves the registry is reachable and the credentials work. */
  async ping(): Promise<void> {
    // No scope: a token for the base endpoint only proves the credentials, which is all we need here.
    const res = await this.request('/v2/', { scope: '' });
    await res.body?.cancel();
    if (!res.ok) throw new RegistryError('REGISTRY_ERROR', `GET ${this.baseUrl}/v2/ answered ${res.status}`, res.status);
  }

  async getManifest(repository: string, reference: string, opts: { notFoundMayBeLag?: boolean } = {}): Promise<FetchedManifest | undefined> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      scope: `repository:${repository}:pull`,
      notFoundMayBeLag: opts.notFoundMayBeLag,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError('REGISTRY_ERROR', `GET manifest ${repository}:${reference} answered ${res.status}`, res.status);
    }
    const bytes = await this.readBody(`${this.baseUrl}/v2/${repository}/manifests/${reference}`, () => readLimited(res, MAX_MANIFEST_BYTES));
    return {
      bytes,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      mediaType: res.headers.get('content-type')?.split(';')[0].trim(),
      headerDigest: res.headers.get('docker-content-digest'),
    };
  }

  /** HEAD a blob; `size` is the Content-Length the registry reports. */
  async headBlob(repository: string, digest: string): Promise<{ status: number; size: number | undefined }> {
    const res = await this.request(`/v2/${repository}/blobs/${digest}`, { method: 'HEAD', scope: `repository:${repository}:pull` });
    await res.body?.cancel();
    const length = res.headers.get('content-length');
    return { status: res.status, size: length === null ? undefined : Number(length) };
  }

  /** Downloads a blob, hashing it as it streams (never held in memory). */
  async hashBlob(repository: string, digest: string): Promise<{ status: number; digest?: string; size?: number }> {
    const res = await this.request(`/v2/${repository}/blobs/${digest}`, { scope: `repository:${repository}:pull` });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      return { status: res.status };
    }
    const algorithm = digest.split(':')[0];
    const hash = createHash(algorithm === 'sha512' ? 'sha512' : 'sha256');
    let size = 0;
    await this.readBody(`${this.baseUrl}/v2/${repository}/blobs/${digest}`, async () => {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
    });
    return { status: res.status, digest: `${algorithm}:${hash.digest('hex')}`, size };
  }

  /** A small blob body, size-capped, under the deadline (for getBlobJson). */
  readBlobBody(res: Response, limit: number, what: string): Promise<Buffer> {
    return this.readBody(what, () => readLimited(res, limit));
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string | null> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
      scope: `repository:${repository}:pull,push`,
    });
    const text = await this.readBody(`${this.baseUrl}/v2/${repository}/manifests/${reference}`, () => res.text());
    if (res.status !== 201 && res.status !== 200) {
      throw new RegistryError('REGISTRY_ERROR', `PUT manifest ${repository}:${reference} answered ${res.status}: ${text.slice(0, 300)}`, res.status);
    }
    return res.headers.get('docker-content-digest');
  }
}

async function readLimited(res: Response, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw new RegistryError('REGISTRY_ERROR', `manifest larger than ${limit} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Turns fetch's opaque "fetch failed" into the cause a user can act on. */
export function classifyNetworkError(err: unknown, url: string, host: string): RegistryError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? '';
  const message = `${cause?.message ?? ''} ${(err as Error)?.message ?? ''}`;
  if (/wrong version number|packet length too long|ERR_SSL_WRONG_VERSION_NUMBER|http request/i.test(`${code} ${message}`)) {
    return new RegistryError('PLAIN_HTTP', `${url}: TLS handshake got a plain-HTTP answer from ${host}`);
  }
  if (/CERT|SSL|TLS|self[- ]signed|unable to verify/i.test(`${code} ${message}`)) {
    return new RegistryError('TLS_ERROR', `${url}: ${cause?.message ?? code}`);
  }
  return new RegistryError('UNREACHABLE', `${url}: ${code || cause?.message || (err as Error)?.message || 'network error'}`);
}

/** Reads a small JSON blob (an image config) with a size cap. */
export async function getBlobJson(client: RegistryClient, repository: string, digest: string): Promise<unknown | undefined> {
  const res = await client.request(`/v2/${repository}/blobs/${digest}`, { scope: `repository:${repository}:pull` });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new RegistryError('REGISTRY_ERROR', `GET blob ${repository}@${digest} answered ${res.status}`, res.status);
  }
  return JSON.parse((await client.readBlobBody(res, MAX_MANIFEST_BYTES, `${repository}@${digest}`)).toString('utf8'));
}
