/**
 * Which scale-out backends this test run has, and what a test does when one is missing.
 *
 * The services come from `scripts/ci/setup-scaleout.sh up DIR` (PostgreSQL, Ceph RGW), whose DIR/env
 * holds the NITRO_TEST_* variables, and from Debian's haproxy binary. Without them a test skips with the
 * reason; with REQUIRE_SCALEOUT=1 (CI) it runs and fails with the reason instead, so a broken setup can
 * never pass as "skipped".
 *
 * tap cannot turn a running test into a skipped one from inside a helper (a throw after `t.plan(0)` is
 * still a failure), so the skip is declared up front:
 *
 *     t.test('…', { skip: scaleoutSkip('postgres', 's3') }, async (t) => {
 *       const db = await postgresDatabase(t);      // throws the reason if the service is missing
 *
 * or, for a whole file, `if (requireScaleout(t, 'postgres')) { … }` (like requireEngine for Docker).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type ScaleoutService = 'postgres' | 's3' | 'haproxy';

/** Minimal view of a tap Test for the file-level form. */
export interface PlanHost {
  plan(n: number, comment?: string): void;
  fail(message: string): void;
}

export const REQUIRE_SCALEOUT = process.env.REQUIRE_SCALEOUT === '1';

const HOW_TO =
  'run `bash scripts/ci/setup-scaleout.sh install && bash scripts/ci/setup-scaleout.sh up DIR`, then ' +
  '`set -a; . DIR/env; set +a` (docs/scaleout-testing.md)';

export interface S3Env {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

/** The haproxy binary: NITRO_TEST_HAPROXY, else `haproxy` on PATH or in /usr/sbin (not on a user's PATH). */
export function haproxyBinary(): string | undefined {
  const explicit = process.env.NITRO_TEST_HAPROXY;
  const candidates = explicit ? [explicit] : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin'].map((d) => join(d, 'haproxy'));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

function missing(service: ScaleoutService): string | undefined {
  const env = process.env;
  switch (service) {
    case 'postgres':
      return env.NITRO_TEST_DATABASE_URL ? undefined : 'NITRO_TEST_DATABASE_URL is not set (no PostgreSQL)';
    case 's3': {
      const unset = ['NITRO_TEST_S3_ENDPOINT', 'NITRO_TEST_S3_ACCESS_KEY', 'NITRO_TEST_S3_SECRET_KEY'].filter((k) => !env[k]);
      return unset.length === 0 ? undefined : `${unset.join(', ')} not set (no S3 server)`;
    }
    case 'haproxy':
      return haproxyBinary() ? undefined : 'haproxy is not installed (apt-get install haproxy, or set NITRO_TEST_HAPROXY)';
  }
}

/** Why the services cannot be used here, or undefined when all of them are available. */
export function scaleoutMissing(...services: ScaleoutService[]): string | undefined {
  const reasons = services.map(missing).filter((r): r is string => r !== undefined);
  return reasons.length === 0 ? undefined : `${reasons.join('; ')}: ${HOW_TO}`;
}

/**
 * tap's `skip` option for a test that needs these services: the reason when one is missing, false when
 * all are there — and false under REQUIRE_SCALEOUT=1, so the test runs and its helper fails loudly.
 */
export function scaleoutSkip(...services: ScaleoutService[]): string | false {
  if (REQUIRE_SCALEOUT) return false;
  return scaleoutMissing(...services) ?? false;
}

/**
 * File-level form: true when the services are there; otherwise ends `t` as skipped with the reason (or
 * fails it under REQUIRE_SCALEOUT=1) and returns false. Call it before any assertion.
 */
export function requireScaleout(t: PlanHost, ...services: ScaleoutService[]): boolean {
  const reason = scaleoutMissing(...services);
  if (reason === undefined) return true;
  if (REQUIRE_SCALEOUT) t.fail(`REQUIRE_SCALEOUT=1 but ${reason}`);
  else t.plan(0, reason);
  return false;
}

/** Throws the reason when a service is missing (the helpers call this first). */
export function assertScaleout(...services: ScaleoutService[]): void {
  const reason = scaleoutMissing(...services);
  if (reason === undefined) return;
  throw new Error(
    REQUIRE_SCALEOUT
      ? `REQUIRE_SCALEOUT=1 but ${reason}`
      : `${reason}. Declare the test with { skip: scaleoutSkip(${services.map((s) => `'${s}'`).join(', ')}) } so it skips instead.`,
  );
}

/** The admin URL of the test PostgreSQL cluster (tests create their own databases from it). */
export function databaseAdminUrl(): string {
  assertScaleout('postgres');
  return process.env.NITRO_TEST_DATABASE_URL as string;
}

export function s3Env(): S3Env {
  assertScaleout('s3');
  const env = process.env as Record<string, string>;
  return {
    endpoint: env.NITRO_TEST_S3_ENDPOINT as string,
    accessKeyId: env.NITRO_TEST_S3_ACCESS_KEY as string,
    secretAccessKey: env.NITRO_TEST_S3_SECRET_KEY as string,
    region: env.NITRO_TEST_S3_REGION || 'us-east-1',
  };
}
