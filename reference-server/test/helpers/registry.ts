/**
 * Test fixture: a registry on a temporary data directory, served by one node:http server on
 * 127.0.0.1:0 that supertest talks to. `restart()` closes the registry and opens a new one on the same
 * directory (in-memory state such as running upload hashes is gone, as after a process restart).
 * Everything is torn down — server, registry, data directory — when the tap test ends.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { createRegistry, type Registry, type RegistryOptions } from '../../src/server.js';
import { backendConfig } from './backend-matrix.js';
import { allBlobs, allManifests, type Blob, type Built } from './oci.js';

/** Minimal view of a tap Test, so helpers don't depend on tap's types. */
export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export interface RegistryFixture {
  readonly dataDir: string;
  readonly url: string;
  readonly server: Server;
  /** The current registry (changes on restart). */
  readonly registry: Registry;
  readonly request: supertest.Agent;
  restart(overrides?: Record<string, unknown>): Promise<void>;
}

/** Config every test starts from: silent, auth explicitly off (tests keep working once auth defaults on). */
export const baseConfig = (dataDir: string): Record<string, unknown> => ({
  data: dataDir,
  log_level: 'silent',
  auth: { enabled: false },
});

export async function registryFixture(
  t: TeardownHost,
  overrides: Record<string, unknown> = {},
  opts: RegistryOptions = {},
): Promise<RegistryFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nitro-registry-test-'));
  const backend = await backendConfig(t); // NITRO_TEST_BACKEND: the same tests on every backend
  let registry = await createRegistry({ ...baseConfig(dataDir), ...backend, ...overrides }, opts);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => registry.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const request = supertest(server);

  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  return {
    dataDir,
    url,
    server,
    get registry() {
      return registry;
    },
    request,
    async restart(more: Record<string, unknown> = {}) {
      await registry.close();
      registry = await createRegistry({ ...baseConfig(dataDir), ...backend, ...overrides, ...more }, opts);
    },
  };
}

/** superagent parser that keeps the body as raw bytes, whatever the Content-Type. */
export function rawParser(response: unknown, cb: (err: Error | null, body: Buffer) => void): void {
  const res = response as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
  res.on('error', (e: Error) => cb(e, Buffer.alloc(0)));
}

/** The OCI error codes of an error response body. */
export const errorCodes = (body: unknown): string[] =>
  ((body as { errors?: { code: string }[] })?.errors ?? []).map((e) => e.code);

/** Monolithic blob push (POST ?digest=); asserts nothing, returns the response. */
export function pushBlob(request: supertest.Agent, repo: string, blob: Blob) {
  return request
    .post(`/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(blob.digest)}`)
    .set('Content-Type', 'application/octet-stream')
    .send(blob.bytes);
}

/**
 * PUT of raw bytes. superagent would JSON-serialise a Buffer sent with a JSON-ish Content-Type (it
 * becomes {"type":"Buffer","data":[…]}); an identity serializer keeps the bytes as they are.
 */
export const putRaw = (request: supertest.Agent, path: string, contentType: string | null, bytes: Buffer | string) => {
  const req = request.put(path).serialize((x: unknown) => x as string);
  if (contentType !== null) req.set('Content-Type', contentType);
  return req.send(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
};

export function putManifest(request: supertest.Agent, repo: string, reference: string, m: Built | Blob, contentType?: string) {
  return putRaw(request, `/v2/${repo}/manifests/${reference}`, contentType ?? m.mediaType, m.bytes);
}

/** Pushes a manifest tree (blobs, children, then the root under `reference`); throws on any failure. */
export async function pushTree(request: supertest.Agent, repo: string, root: Built, reference: string = root.digest): Promise<void> {
  for (const b of allBlobs(root)) {
    const res = await pushBlob(request, repo, b);
    if (res.status !== 201) throw new Error(`blob push ${b.digest} → ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (const m of allManifests(root)) {
    const ref = m.digest === root.digest ? reference : m.digest;
    const res = await putManifest(request, repo, ref, m);
    if (res.status !== 201) throw new Error(`manifest push ${ref} → ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/** GET that keeps the raw body bytes. */
export const getRaw = (request: supertest.Agent, path: string) => request.get(path).buffer(true).parse(rawParser);

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * A request with the path sent exactly as given (no URL normalisation of `..`, `%2e`, `//`, which
 * client libraries apply), for path-trick tests. Resolves status -1 when the server cuts the connection.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') resolve({ status: -1, headers: {}, body: Buffer.alloc(0) });
      else reject(e);
    });
    req.end(body);
  });
}
