/**
 * Test fixture for the auth module: a registry with token auth on a temporary data directory, served on
 * 127.0.0.1:0. It composes the server exactly as server.ts will (auth routes first, authorizer and hooks
 * from createAuth, readSmallBlob from the blob store) — until server.ts wires createAuth itself; then
 * this becomes a thin wrapper around createRegistry.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import supertest from 'supertest';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { openDatabase, SqliteMetadataStore } from '../../src/metadata/sqlite-store.js';
import { UploadService } from '../../src/registry/uploads.js';
import type { RegistryDeps } from '../../src/registry/deps.js';
import type { Route, RequestContext } from '../../src/http/route.js';
import { RegistryError, isRegistryError } from '../../src/oci/errors.js';
import { sendError } from '../../src/http/respond.js';
import { baseRoutes } from '../../src/http/handlers/base.js';
import { blobRoutes } from '../../src/http/handlers/blobs.js';
import { uploadRoutes } from '../../src/http/handlers/uploads.js';
import { manifestRoutes } from '../../src/http/handlers/manifests.js';
import { tagRoutes } from '../../src/http/handlers/tags.js';
import { catalogRoutes } from '../../src/http/handlers/catalog.js';
import { referrerRoutes } from '../../src/http/handlers/referrers.js';
import { createAuth, type Auth } from '../../src/auth/index.js';

export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export const ADMIN_PASSWORD = 'admin-pass:with:colons';

export interface AuthFixture {
  readonly url: string;
  readonly dataDir: string;
  readonly request: supertest.Agent;
  readonly auth: Auth;
  readonly meta: SqliteMetadataStore;
  /** Every log line (JSON objects), to assert audit lines and that no secret is logged. */
  readonly logLines: Record<string, unknown>[];
  readonly logText: () => string;
}

export async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw new Error('blob too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function authFixture(
  t: TeardownHost,
  opts: { auth?: Record<string, unknown>; repositories?: unknown[]; env?: NodeJS.ProcessEnv; tls?: { cert: Buffer; key: Buffer } } = {},
): Promise<AuthFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nitro-auth-test-'));
  let cleanup = () => rmSync(dataDir, { recursive: true, force: true });
  t.teardown(() => cleanup());
  const logLines: Record<string, unknown>[] = [];
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      for (const line of chunk.toString().split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'info' }, sink);

  const blobs = new FsBlobStore(dataDir);
  await blobs.init();
  const db = openDatabase(join(dataDir, 'registry.db'));
  const meta = new SqliteMetadataStore(db);
  const uploads = new UploadService(blobs, meta);
  const auth = await createAuth({
    db,
    metadata: meta,
    config: { admin_password: ADMIN_PASSWORD, ...(opts.auth ?? {}) },
    repositories: opts.repositories ?? [],
    dataDir,
    log,
    readSmallBlob: (digest) => readAll(blobs.read(digest), 64 * 1024),
    env: opts.env ?? {},
  });
  const deps: RegistryDeps = {
    meta,
    blobs,
    uploads,
    hooks: auth.hooks,
    options: { chunkMinLength: 1024, maxPageSize: 1000, deleteEnabled: true },
  };
  const routes: Route[] = [
    ...auth.routes,
    ...baseRoutes(),
    ...catalogRoutes(deps),
    ...uploadRoutes(deps),
    ...blobRoutes(deps),
    ...manifestRoutes(deps),
    ...tagRoutes(deps),
    ...referrerRoutes(deps),
  ];

  const decode = (g: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(g ?? {}).map(([k, v]) => {
      try {
        return [k, decodeURIComponent(v)];
      } catch {
        return [k, v];
      }
    }));

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    let matched = false;
    for (const route of routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      matched = true;
      if (route.method !== req.method) continue;
      const params = decode(m.groups);
      const principal = await auth.authorizer.authorize(req, route.access(params, url));
      const ctx: RequestContext = { req, res, url, params, principal, signal: new AbortController().signal, log: {} };
      await route.handle(ctx);
      return;
    }
    throw new RegistryError(matched ? 'UNSUPPORTED' : 'NOT_FOUND');
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    dispatch(req, res).catch((err: unknown) => {
      if (isRegistryError(err)) sendError(res, err);
      else {
        log.error({ err }, 'unhandled');
        sendError(res, new RegistryError('UNKNOWN', 'internal server error'));
      }
      if (!req.complete) req.resume();
    });
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const removeDir = cleanup;
  cleanup = () => undefined;
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    meta.close();
    removeDir();
  });
  return { url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`, dataDir, request: supertest(server), auth, meta, logLines, logText: () => raw };
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
