/**
 * Composition root: builds the stores, services and routes, and serves them over node:http(s).
 *   createRegistry(config) → { handler, close }    (for supertest and embedding)
 *   startRegistry(options) → { url, close }        (listening server)
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { SetupError, fsReason, listenError } from './setup-error.js';
import type { AddressInfo } from 'node:net';
import { configFrom, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { openBackends, type Backends } from './compose.js';
import type { BlobStore } from './storage/blob-store.js';
import { UploadService } from './registry/uploads.js';
import { UploadQuota } from './registry/upload-quota.js';
import type { RegistryHooks } from './registry/hooks.js';
import type { RegistryDeps } from './registry/deps.js';
import { createAuth, type Auth } from './auth/index.js';
import { createGcServices, type GcServices } from './gc/index.js';
import type { Route, RequestContext, RequestLogFields } from './http/route.js';
import { RegistryError, isRegistryError, isStorageFull } from './oci/errors.js';
import { sendError } from './http/respond.js';
import { closeAfterError, configureServer, serverOptions, watchBody } from './http/connection.js';
import { checkFreeSpace } from './storage/disk-space.js';
import { baseRoutes } from './http/handlers/base.js';
import { blobRoutes } from './http/handlers/blobs.js';
import { uploadRoutes } from './http/handlers/uploads.js';
import { manifestRoutes } from './http/handlers/manifests.js';
import { tagRoutes } from './http/handlers/tags.js';
import { catalogRoutes } from './http/handlers/catalog.js';
import { referrerRoutes } from './http/handlers/referrers.js';
import { metricsRoutes } from './http/handlers/metrics.js';
import { healthRoutes } from './http/handlers/health.js';
import { noteActivity } from './idle-memory.js';

export interface Registry {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly config: Config;
  readonly deps: RegistryDeps;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Messages for the operator printed once at start (e.g. a generated admin password). */
  readonly startupMessages: string[];
  /** Accounts, tokens, Nitro repositories and push rules. */
  readonly auth: Auth;
  /** Garbage collection and repository statistics. */
  readonly gc: GcServices;
  /** The storage and metadata backends (compose.ts). */
  readonly backends: Backends;
  /** Marks the registry as draining: /readyz answers 503 so load balancers stop sending new requests. */
  drain(): void;
  /** Aborts in-flight work and closes the stores. */
  close(): Promise<void>;
}

export interface RegistryOptions {
  /** A logger to use instead of one built from config.logLevel (tests pass a silent one). */
  log?: Logger;
  /** Environment for secrets such as NITRO_REGISTRY_ADMIN_PASSWORD (default process.env). */
  env?: NodeJS.ProcessEnv;
}

function decodeParams(groups: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(groups ?? {})) {
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      out[k] = v; // malformed escapes: leave as is; validation refuses it
    }
  }
  return out;
}

export async function createRegistry(configOrOverrides: Config | Record<string, unknown> = {}, opts: RegistryOptions = {}): Promise<Registry> {
  const config = 'uploads' in configOrOverrides && 'dataDir' in configOrOverrides ? (configOrOverrides as Config) : configFrom(configOrOverrides);
  const log = opts.log ?? createLogger(config.logLevel);

  const backends = await openBackends(config, { log });
  const { blobs } = backends;
  const meta = backends.metadata.registry;
  const quota = new UploadQuota({
    perAccount: config.limits.uploadSessionsPerAccount,
    perAddress: config.limits.uploadSessionsPerAddress,
    exists: async (id) => (await meta.getUpload(id)) !== null,
    log,
  });
  const uploads = new UploadService(blobs, meta, quota);
  const metrics = createMetrics({ uploadsInFlight: () => uploads.uploadsInFlight });

  // Accounts, tokens, Nitro repositories and push rules. With auth disabled it still provides the
  // repositories and the push-rule hooks, with an allow-all authorizer.
  const auth = await createAuth({
    backend: backends.metadata,
    metadata: meta,
    config: config.auth,
    repositories: config.repositories,
    dataDir: config.dataDir,
    log,
    // Cosign payloads are tiny; anything over 1 MiB is not a signature payload we will parse.
    readSmallBlob: async (digest: string) => {
      const data = await readSmallBlob(blobs, digest, 1024 * 1024);
      if (!data) throw new Error(`signature payload ${digest} is missing or too large`);
      return data;
    },
    ...(opts.env ? { env: opts.env } : {}),
  });
  const hooks: RegistryHooks = auth.hooks;
  const gc = createGcServices({ gcStore: backends.metadata.gc, meta, blobs, uploads, config, log, metricsRegistry: metrics.registry });
  const resolveScope = (id: string) => {
    const repo = auth.repositories.get(id);
    return repo ? { id: repo.id, name: repo.name, owns: (image: string) => auth.repositories.owns(repo, image) } : null;
  };
  const extraRoutes: Route[] = [...auth.routes, ...gc.routes(resolveScope)];
  const startupMessages: string[] = [...auth.startupMessages];
  const authorizer = auth.authorizer;

  const deps: RegistryDeps = {
    meta,
    blobs,
    uploads,
    hooks,
    options: { chunkMinLength: config.uploads.chunkMinLength, maxPageSize: config.maxPageSize, deleteEnabled: config.deleteEnabled },
  };

  // Order matters where patterns overlap: specific /v2/ paths (token, catalog) before the name patterns,
  // upload sessions before blobs/<digest>.
  let draining = false;
  const routes: Route[] = [
    ...healthRoutes({
      checks: {
        database: () => backends.metadata.ping(),
        storage: () => blobs.check(),
        // Local disk matters only when something is written under the data directory: the blob files
        // (filesystem driver) or the SQLite database. S3 + PostgreSQL replicas write nothing locally.
        ...(config.storage.driver === 'filesystem' || config.database.url === null
          ? { disk: () => checkFreeSpace(config.dataDir, config.limits.minFreeDiskBytes) }
          : {}),
      },
      draining: () => draining,
    }),
    ...extraRoutes,
    ...baseRoutes(),
    ...catalogRoutes(deps),
    ...uploadRoutes(deps),
    ...blobRoutes(deps),
    ...manifestRoutes(deps),
    ...tagRoutes(deps),
    ...referrerRoutes(deps),
    ...metricsRoutes(metrics),
  ];

  /** One per running handler; close() aborts them all (a Set, not listeners on one shared signal). */
  const handlerAborts = new Set<AbortController>();

  // Expired upload sessions are purged in the background (GC purges them too).
  const ttlMs = config.uploads.ttlSeconds * 1000;
  const purgeTimer = setInterval(
    () => {
      uploads.purgeStale(Date.now() - ttlMs).catch((e: unknown) => log.error({ err: e }, 'upload purge failed'));
    },
    Math.min(Math.max(ttlMs / 4, 1000), 5 * 60_000),
  );
  purgeTimer.unref();

  /** Set when close() begins: the stores are about to close, so new work is refused with 503. */
  let closing = false;
  const shuttingDown = () => new RegistryError('UNAVAILABLE', undefined, undefined, { 'Retry-After': String(RETRY_AFTER_SHUTDOWN_SECONDS) });
  /** Storage-full refusals since the last log line about them (logged at most once per STORAGE_FULL_LOG_MS). */
  let storageFull = { lastLogged: 0, suppressed: 0 };

  async function dispatch(req: IncomingMessage, res: ServerResponse, fields: RequestLogFields, matched: { route: string }): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (closing) throw shuttingDown();
    // Prefix a fixed origin instead of resolving against a base: a path like "//host:99999/" must stay a path.
    let url: URL;
    try {
      url = new URL(`http://registry.invalid${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? '/'}`);
    } catch {
      throw new RegistryError('NOT_FOUND', 'malformed request target');
    }
    const method = req.method ?? 'GET';
    let pathMatched = false;
    for (const route of routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      matched.route = route.name; // known before auth and the handler run, so errors are counted per route
      const params = decodeParams(m.groups);
      const principal = await authorizer.authorize(req, route.access(params, url));
      fields.user = principal.subject;
      // A CI workload has no account: its request lines name the workflow identity's subject instead.
      if (principal.workload) fields.workload = principal.workload.subject;
      const abort = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) abort.abort(new Error('client closed the connection'));
      };
      res.once('close', onClose);
      handlerAborts.add(abort);
      try {
        const ctx: RequestContext = { req, res, url, params, principal, signal: abort.signal, log: fields };
        await route.handle(ctx);
      } finally {
        handlerAborts.delete(abort);
      }
      return;
    }
    if (pathMatched) throw new RegistryError('UNSUPPORTED', `method ${method} is not allowed here`);
    throw new RegistryError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
  }

  /** Requests being handled, so close() can let them settle before the stores close. */
  const inFlight = new Set<Promise<void>>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    noteActivity();
    const fields: RequestLogFields = {};
    const matched = { route: 'unmatched' };
    watchBody(req, res, config.limits, log);
    const done: Promise<void> = dispatch(req, res, fields, matched)
      .catch((err: unknown) => {
        // An unread body is not drained (a trickling client would hold the socket): answer, then close.
        closeAfterError(req, res);
        if (isRegistryError(err)) {
          fields.error = err.code;
          sendError(res, err);
        } else if (res.destroyed) {
          fields.error = 'aborted';
          res.destroy();
        } else if (isStorageFull(err)) {
          // Every write path rolls back what it could not finish (a chunk is truncated to the last saved
          // offset, a commit leaves the session resumable), so the client may retry once space is freed.
          fields.error = 'STORAGE_FULL';
          const now = Date.now();
          if (now - storageFull.lastLogged >= STORAGE_FULL_LOG_MS) {
            log.error(
              { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message, method: req.method, path: req.url?.split('?')[0], alsoRefusedSinceLastLine: storageFull.suppressed },
              'storage full: write refused with 507, nothing partial kept; free space on the data directory',
            );
            storageFull = { lastLogged: now, suppressed: 0 };
          } else storageFull.suppressed++;
          sendError(res, new RegistryError('STORAGE_FULL'));
        } else if (closing) {
          // Aborted by shutdown (or a store closed under it): the client should retry, not report a bug.
          fields.error = 'UNAVAILABLE';
          sendError(res, shuttingDown());
        } else if ((err as { name?: string })?.name === 'AbortError') {
          fields.error = 'aborted';
          res.destroy();
        } else {
          log.error({ err, method: req.method, path: req.url?.split('?')[0] }, 'unhandled error');
          fields.error = 'internal';
          sendError(res, new RegistryError('UNKNOWN', 'internal server error'));
        }
      })
      .finally(() => {
        record();
        inFlight.delete(done);
      });
    inFlight.add(done);
    // Counted when the response is flushed, not when the handler settles: a streamed blob's handler settles
    // only after its file handle closes, and by then the client may already have sent its next request.
    let recorded = false;
    function record(): void {
      if (recorded) return;
      recorded = true;
      {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.requests.inc({ route: matched.route, method: req.method ?? '', status: String(res.statusCode) });
        metrics.duration.observe({ route: matched.route }, seconds);
        if (fields.bytesIn) metrics.bytesIn.inc(fields.bytesIn);
        if (fields.bytesOut) metrics.bytesOut.inc(fields.bytesOut);
        if (log.isLevelEnabled('info')) {
          log.info(
            { method: req.method, path: req.url?.split('?')[0], status: res.statusCode, durationMs: Math.round(seconds * 1e4) / 10, ...fields },
            'request',
          );
        }
      }
    }
    res.once('finish', record);
  };

  let closePromise: Promise<void> | null = null;
  return {
    handler,
    config,
    deps,
    log,
    metrics,
    startupMessages,
    auth,
    gc,
    backends,
    drain() {
      draining = true;
    },
    close() {
      closePromise ??= closeAll();
      return closePromise;
    },
  };

  async function closeAll(): Promise<void> {
    draining = true;
    closing = true;
    clearInterval(purgeTimer);
    // A RegistryError as the reason: streams reject with it, and the client gets 503 + Retry-After.
    for (const a of handlerAborts) a.abort(shuttingDown());
    await gc.close();
    // Aborted handlers roll their chunk back (file truncate + no offset change): let them finish first.
    const settled = Promise.allSettled([...inFlight]);
    await Promise.race([settled, new Promise((r) => setTimeout(r, 5000).unref())]);
    auth.close();
    await backends.close();
  }
}

/** Retry-After of the 503 answered while shutting down: about what a restart takes. */
const RETRY_AFTER_SHUTDOWN_SECONDS = 10;
/** A full disk fails every write: one log line per this interval, with the count of the others. */
const STORAGE_FULL_LOG_MS = 60_000;

export interface RunningRegistry {
  readonly url: string;
  readonly server: Server;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Starts a listening registry. `listen` may use port 0 (tests). */
export async function startRegistry(overrides: Record<string, unknown> | Config = {}, opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const registry = await createRegistry(overrides, opts);
  const { config } = registry;
  let server: Server;
  try {
    server = config.tls
      ? createHttpsServer({ ...tlsOptions(config.tls), ...serverOptions(config.limits) }, registry.handler)
      : createHttpServer(serverOptions(config.limits), registry.handler);
  } catch (e) {
    await registry.close(); // else its database and timers keep the process alive
    throw e;
  }
  // Header and request timeouts, half-open sockets (http/connection.ts). Large blob uploads can take a long
  // time, so by default only the body's minimum rate limits them, not node's 5 min request timeout.
  configureServer(server, config.limits, registry.log);
  const idx = config.listen.lastIndexOf(':');
  const host = config.listen.slice(0, idx).replace(/^\[|\]$/g, '');
  const port = Number(config.listen.slice(idx + 1));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    await registry.close();
    throw listenError(e, config.listen);
  }
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${config.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    server,
    registry,
    close() {
      closing ??= (async () => {
        registry.drain();
        // Stop accepting, let in-flight requests finish for a grace period, then abort them: an aborted
        // chunk is rolled back to its last complete offset, so the client can resume after restart.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => {
          void registry.close().then(() => server.closeAllConnections());
        }, config.shutdownGraceSeconds * 1000);
        await closed;
        clearTimeout(grace);
        await registry.close();
      })();
      return closing;
    },
  };
}

/** Reads a small blob (a signature payload) fully, refusing more than `limit` bytes. */
async function readSmallBlob(blobs: BlobStore, digest: string, limit: number): Promise<Buffer | null> {
  const size = await blobs.stat(digest);
  if (size === null || size > limit) return null;
  const opened = await blobs.open(digest);
  if (!opened) return null;
  const chunks: Buffer[] = [];
  for await (const c of opened.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads the TLS files, naming the setting when one is missing, unreadable or not PEM. */
function tlsOptions(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (file: string, setting: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new SetupError(`${setting} ${file}: ${fsReason(e)}`);
    }
  };
  const opts = { cert: read(tls.cert, 'tls.cert (--tls-cert)'), key: read(tls.key, 'tls.key (--tls-key)') };
  try {
    createSecureContext(opts);
  } catch (e) {
    throw new SetupError(`tls: ${tls.cert} / ${tls.key} are not a usable PEM certificate and private key: ${(e as Error).message.split('\n')[0]}`);
  }
  return opts;
}
