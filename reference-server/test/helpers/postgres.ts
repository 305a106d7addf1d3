/**
 * A fresh, empty PostgreSQL database per test, on the cluster of NITRO_TEST_DATABASE_URL (an admin URL
 * written by scripts/ci/setup-scaleout.sh). CREATE DATABASE takes ~0.1 s, so every test gets its own
 * and nothing leaks between tests; the database is dropped WITH (FORCE) at teardown, which also ends
 * connections a test (or a replica it started) left open.
 *
 * Declare the test with `{ skip: scaleoutSkip('postgres') }` (see scaleout-env.ts).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseAdminUrl } from './scaleout-env.js';
import type { TeardownHost } from './registry.js';

/** Databases made here start with this (a leftover from a killed run is easy to spot and drop). */
export const TEST_DATABASE_PREFIX = 'nitro_t_';

let made = 0;

/** Runs `fn` with one connection as the cluster's admin, then closes it. */
export async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseAdminUrl(), application_name: 'nitro-registry tests' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database, dropped when `t` ends; returns its URL (same user and password as the admin URL). */
export async function postgresDatabase(t: TeardownHost): Promise<string> {
  const admin = databaseAdminUrl();
  const name = `${TEST_DATABASE_PREFIX}${process.pid}_${++made}_${randomBytes(3).toString('hex')}`;
  // Identifiers cannot be bind parameters; `name` is [a-z0-9_] only, quoted anyway.
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}"`));
  t.teardown(() => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
