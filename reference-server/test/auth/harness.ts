/**
 * Test fixture for the auth module: the real server (startRegistry) with token auth on a temporary data
 * directory, served on 127.0.0.1:0, its log lines captured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import supertest from 'supertest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startRegistry } from '../../src/server.js';
import { backendConfig } from '../helpers/backend-matrix.js';
import type { MetadataStore } from '../../src/metadata/store.js';
import type { Auth } from '../../src/auth/index.js';
import type { Registry } from '../../src/server.js';

export interface TeardownHost {
  teardown(fn: () => unknown): void;
}

export const ADMIN_PASSWORD = 'admin-pass:with:colons';

export interface AuthFixture {
  readonly url: string;
  readonly dataDir: string;
  readonly request: supertest.Agent;
  readonly auth: Auth;
  readonly meta: MetadataStore;
  /** The whole registry (route tables, GC services) for tests that enumerate or reach inside. */
  readonly registry: Registry;
  /** Every log line (JSON objects), to assert audit lines and that no secret is logged. */
  readonly logLines: Record<string, unknown>[];
  readonly logText: () => string;
  /** Environment for a CLI to reach the same database (NITRO_REGISTRY_DATABASE_URL on PostgreSQL). */
  readonly cliEnv: NodeJS.ProcessEnv;
  /** Every row of a table of the metadata database, whichever backend the matrix chose. */
  tableRows(table: string): Promise<unknown[]>;
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

  let tls: { cert: string; key: string } | undefined;
  if (opts.tls) {
    const tlsDir = mkdtempSync(join(tmpdir(), 'nitro-auth-tls-'));
    t.teardown(() => rmSync(tlsDir, { recursive: true, force: true }));
    tls = { cert: join(tlsDir, 'cert.pem'), key: join(tlsDir, 'key.pem') };
    writeFileSync(tls.cert, opts.tls.cert);
    writeFileSync(tls.key, opts.tls.key, { mode: 0o600 });
  }
  const backend = await backendConfig(t); // NITRO_TEST_BACKEND: the same tests on every backend
  const databaseUrl = (backend.database as { url?: string } | undefined)?.url ?? null;
  const running = await startRegistry(
    {
      ...backend,
      data: dataDir,
      listen: '127.0.0.1:0',
      auth: { admin_password: ADMIN_PASSWORD, ...(opts.auth ?? {}) },
      repositories: opts.repositories ?? [],
      ...(tls ? { tls } : {}),
    },
    { log, env: opts.env ?? {} },
  );
  const removeDir = cleanup;
  cleanup = () => undefined;
  t.teardown(async () => {
    running.server.closeAllConnections();
    await running.close();
    removeDir();
  });
  const { registry } = running;
  return {
    url: running.url,
    dataDir,
    request: supertest(running.server),
    auth: registry.auth,
    meta: registry.deps.meta,
    registry,
    logLines,
    logText: () => raw,
    cliEnv: databaseUrl ? { NITRO_REGISTRY_DATABASE_URL: databaseUrl } : {},
    async tableRows(table) {
      if (databaseUrl) {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        try {
          return (await c.query(`SELECT * FROM ${table}`)).rows;
        } finally {
          await c.end();
        }
      }
      const db = new Database(join(dataDir, 'registry.db'), { readonly: true });
      try {
        return db.prepare(`SELECT * FROM ${table}`).all();
      } finally {
        db.close();
      }
    },
  };
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The type of `t` inside a tap subtest, for helpers that assert. */
export type TapTest = Parameters<Parameters<typeof import('tap').test>[0]>[0];
