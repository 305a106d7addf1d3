import { createHash } from 'node:crypto';
import { ActionError, type ErrorCode } from '../errors.js';
import { parseAuthChallenge, type AuthChallenge } from './auth-challenge.js';
import { apiHost } from './image-ref.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { DEFAULT_RETRY, retryDelay, sleep, type RetryPolicy } from './retry.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** Registry host as in image names (`127.0.0.1:5000`, `docker.io`). */
  host: string;
  /** Talk plain HTTP instead of HTTPS. */
  insecure?: boolean;
  credentials?: Credentials;
  retry?: RetryPolicy;
  /** Called before each retry, so the log explains a slow verification. */
  onRetry?: (message: string) => void;
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

export class RegistryError extends ActionError {
  readonly status: number | undefined;
  constructor(code: ErrorCode, detail: string, status?: number) {
    super(code, detail);
    this.status = status;
  }
}

/**
 * A small client for the Distribution HTTP API: the token challenge flow (Bearer, anonymous or with Basic
 * credentials at the realm) and Basic auth, bounded retries for transient answers, streamed blob reads.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly tokens = new Map<string, string>();
  private basicOnly = false;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: RegistryClientOptions) {
    this.baseUrl = `${options.insecure ? 'http' : 'https'}://${apiHost(options.host)}`;
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  get host(): string {
    return this.options.host;
  }

  /** Sends a request, answering one auth challenge and retrying transient failures. */
  async request(path: string, opts: RequestOptions): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 1; ; attempt++) {
      let res = await this.send(url, opts);
      if (res.status === 401) {
        const challenge = parseAuthChallenge(res.headers.get('www-authenticate'));
        await res.body?.cancel();
        await this.answerChallenge(challenge, opts.scope);
        res = await this.send(url, opts);
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
      await sleep(delay);
    }
  }

  private async send(url: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'nitro-registry-action', ...opts.headers };
    const auth = this.authorizationFor(opts.scope);
    if (auth) headers.authorization = auth;
    try {
      return await fetch(url, { method: opts.method ?? 'GET', headers, body: opts.body, redirect: 'follow' });
    } catch (err) {
      throw classifyNetworkError(err, url, this.options.host);
    }
  }

  private authorizationFor(scope: string): string | undefined {
    if (this.basicOnly) return this.basicHeader();
    return this.tokens.get(scope);
  }

  private basicHeader(): string | undefined {
    const c = this.options.credentials;
    if (!c) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async answerChallenge(challenge: AuthChallenge | undefined, scope: string): Promise<void> {
    if (!challenge) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} answered 401 without a usable WWW-Authenticate challenge`, 401);
    if (challenge.scheme === 'basic') {
      if (!this.options.credentials) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} requires credentials (Basic) and none were given`, 401);
      this.basicOnly = true;
      return;
    }
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError('AUTH_FAILED', `registry ${this.options.host} sent a Bearer challenge without realm`, 401);
    const tokenUrl = new URL(realm);
    if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service);
    // Ask for the scope this request needs; the challenge's scope may be narrower (pull only) for a PUT.
    if (scope) tokenUrl.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': 'nitro-registry-action' };
    const basic = this.basicHeader();
    if (basic) headers.authorization = basic;
    let res: Response;
    try {
      res = await fetch(tokenUrl, { headers });
    } catch (err) {
      throw classifyNetworkError(err, tokenUrl.toString(), tokenUrl.host);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RegistryError('AUTH_FAILED', `token endpoint ${tokenUrl.origin}${tokenUrl.pathname} answered ${res.status} for ${this.options.credentials ? `user "${this.options.credentials.username}"` : 'anonymous access'}`, res.status);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError('REGISTRY_ERROR', `token endpoint ${tokenUrl.origin}${tokenUrl.pathname} answered ${res.status}`, res.status);
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError('AUTH_FAILED', `token endpoint ${tokenUrl.origin}${tokenUrl.pathname} returned no token`);
    this.tokens.set(scope, `Bearer ${token}`);
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
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES);
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
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.byteLength;
    }
    return { status: res.status, digest: `${algorithm}:${hash.digest('hex')}`, size };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string | null> {
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType },
      body: bytes,
      scope: `repository:${repository}:pull,push`,
    });
    const text = await res.text();
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
  return JSON.parse((await readLimited(res, MAX_MANIFEST_BYTES)).toString('utf8'));
}
