#!/usr/bin/env node
// The backend matrix: the HTTP API, auth/push-rule and conformance tests again on PostgreSQL, and on
// PostgreSQL + S3 (reference-server/test/helpers/backend-matrix.ts picks the backend from
// NITRO_TEST_BACKEND). The contract suites run on every backend in `npm test` already; this runs the
// server-level tests, not every test once per backend. Needs the services of
// `scripts/ci/setup-scaleout.sh up DIR` (NITRO_TEST_* in DIR/env) and a built tree.
//   node scripts/test-matrix.mjs [--backend postgres|postgres-s3|sqlite-s3]... [-- extra tap args]
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const FILES = [
  ...['base', 'blobs', 'uploads', 'manifests', 'listings', 'referrers', 'names-and-fuzz', 'operations'].map((n) => `reference-server/test/${n}.test.ts`),
  ...readdirSync('reference-server/test/auth')
    .filter((f) => f.endsWith('.test.ts') && f !== 'password-cache.test.ts')
    .map((f) => join('reference-server/test/auth', f)),
  'test/conformance/reference-server.test.ts',
];

const args = process.argv.slice(2);
const dash = args.indexOf('--');
const tapArgs = dash >= 0 ? args.slice(dash + 1) : [];
const own = dash >= 0 ? args.slice(0, dash) : args;
const backends = own.flatMap((a, i) => (a === '--backend' ? [own[i + 1]] : []));
if (backends.length === 0) backends.push('postgres', 'postgres-s3');

for (const v of ['NITRO_TEST_DATABASE_URL', 'NITRO_TEST_S3_ENDPOINT']) {
  if (!process.env[v]) {
    console.error(`test-matrix: ${v} is not set: run scripts/ci/setup-scaleout.sh up DIR and source DIR/env (docs/scaleout-testing.md)`);
    process.exit(2);
  }
}

let failed = 0;
for (const backend of backends) {
  console.log(`\n=== backend matrix: NITRO_TEST_BACKEND=${backend} (${FILES.length} files)`);
  const r = spawnSync('npx', ['tap', '--disable-coverage', ...tapArgs, ...FILES], {
    stdio: 'inherit',
    env: { ...process.env, NITRO_TEST_BACKEND: backend, REQUIRE_SCALEOUT: '1' },
  });
  if (r.status !== 0) {
    failed++;
    console.log(`=== backend matrix: ${backend} FAILED (exit ${r.status})`);
  } else console.log(`=== backend matrix: ${backend} ok`);
}
process.exit(failed === 0 ? 0 : 1);
