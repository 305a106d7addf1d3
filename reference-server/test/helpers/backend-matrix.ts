/**
 * The backend matrix: which metadata database and blob storage the server tests run on. One variable
 * chooses, so the same test files run on every backend instead of being copied:
 *
 *   NITRO_TEST_BACKEND=sqlite        (default) SQLite + the filesystem under the test's data directory
 *   NITRO_TEST_BACKEND=postgres      PostgreSQL (a fresh database per fixture) + the filesystem
 *   NITRO_TEST_BACKEND=postgres-s3   PostgreSQL + S3 (a fresh bucket per fixture on the test RGW)
 *   NITRO_TEST_BACKEND=sqlite-s3     SQLite + S3 (the S3 driver alone, without PostgreSQL)
 *
 * `npm run test:matrix` runs the HTTP API, auth/push-rule and conformance tests on the last two; CI runs
 * it after `npm test`. Fixtures merge `backendConfig(t)` into the server config they build.
 */
import type { TeardownHost } from './registry.js';
import { postgresDatabase } from './postgres.js';
import { s3Bucket, storageS3Config } from './s3.js';

export type TestBackend = 'sqlite' | 'postgres' | 'postgres-s3' | 'sqlite-s3';

export const TEST_BACKEND: TestBackend = (() => {
  const v = process.env.NITRO_TEST_BACKEND ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres' && v !== 'postgres-s3' && v !== 'sqlite-s3') {
    throw new Error(`NITRO_TEST_BACKEND must be sqlite, postgres, postgres-s3 or sqlite-s3, not ${v}`);
  }
  return v;
})();

/** True when blobs live on the test's data directory (tests that inspect files on disk need it). */
export const BLOBS_ON_DISK = TEST_BACKEND !== 'postgres-s3' && TEST_BACKEND !== 'sqlite-s3';

/** Config overrides for the chosen backend: a fresh database and bucket for this test, removed at teardown. */
export async function backendConfig(t: TeardownHost): Promise<Record<string, unknown>> {
  if (TEST_BACKEND === 'sqlite') return {};
  if (TEST_BACKEND === 'sqlite-s3') return { storage: { driver: 's3', s3: storageS3Config(await s3Bucket(t)) } };
  const database = { url: await postgresDatabase(t) };
  if (TEST_BACKEND === 'postgres') return { database };
  return { database, storage: { driver: 's3', s3: storageS3Config(await s3Bucket(t)) } };
}

/** The reason to skip a test that needs blob files on disk, or false. */
export const needsBlobsOnDisk = (): string | false => (BLOBS_ON_DISK ? false : `inspects blob files on disk; blobs are in S3 with NITRO_TEST_BACKEND=${TEST_BACKEND}`);
