// One conformance run: learn how the registry authenticates, set up through the management API when present,
// run the selected checks, clean up, and return a report object with a stable schema (see README "JSON report").
import { randomBytes } from 'node:crypto';
import type { SuiteConfig } from './config.js';
import { ALL_CHECKS } from './checks/index.js';
import { runChecks } from './harness/runner.js';
import { AREAS, type AreaId, type CheckDef, type CheckResult, type Outcome } from './harness/types.js';
import { AuthSession } from './http/auth.js';
import { HttpClient, type Exchange } from './http/client.js';
import { detectManagement, ManagementSession } from './setup/management.js';

export const REPORT_SCHEMA = 'nitro-registry/conformance-report@1';

export type Counts = Record<Outcome, number> & { total: number };

export interface SuiteReport {
  schema: typeof REPORT_SCHEMA;
  target: { url: string };
  runId: string;
  startedAt: string;
  durationMs: number;
  management: { available: boolean; reason?: string };
  features: SuiteConfig['features'];
  summary: Counts;
  areas: Array<{ id: AreaId; title: string } & Counts>;
  checks: CheckResult[];
  /** Problems outside any check (setup, cleanup). */
  harnessNotes: string[];
}

export function countOf(results: CheckResult[]): Counts {
  const c: Counts = { passed: 0, failed: 0, skipped: 0, error: 0, total: results.length };
  for (const r of results) c[r.outcome]++;
  return c;
}

export interface SuiteOptions {
  checks?: CheckDef[];
  onResult?: (r: CheckResult) => void;
}

export async function runSuite(config: SuiteConfig, o: SuiteOptions = {}): Promise<SuiteReport> {
  const started = Date.now();
  const runId = randomBytes(3).toString('hex');
  const harnessNotes: string[] = [];
  const session = new AuthSession(config.credentials);
  const setupTranscript: Exchange[] = [];
  const setupHttp = new HttpClient({ baseUrl: config.url, session, transcript: setupTranscript, timeoutMs: config.requestTimeoutMs, debug: config.debug });

  // Learn the challenge once up front so streamed uploads (which cannot be replayed after a 401) carry auth.
  const probe = await setupHttp.request('GET', '/v2/', { auth: 'none' });
  if (probe.status === 401) session.learn(probe.headers.get('www-authenticate'));

  let mgmt: ManagementSession | undefined;
  let reason: string | undefined = 'management API use disabled (management: off)';
  if (config.management === 'auto') {
    reason = await detectManagement(setupHttp, config.credentials).catch((e: Error) => `management probe failed: ${e.message}`);
    if (!reason && config.credentials) mgmt = new ManagementSession(setupHttp, config.credentials, runId);
  }

  if (config.gc.trigger === 'auto') {
    config = { ...config, gc: { ...config.gc, trigger: mgmt ? 'nitro-api' : 'none' } };
    harnessNotes.push(`gc.trigger auto → ${config.gc.trigger}${mgmt ? ' (management API detected)' : ''}`);
  }

  let results: CheckResult[] = [];
  try {
    results = await runChecks({ config, checks: o.checks ?? ALL_CHECKS, mgmt, session, onResult: o.onResult, runId });
  } finally {
    if (mgmt) harnessNotes.push(...(await mgmt.cleanup()));
  }
  return {
    schema: REPORT_SCHEMA,
    target: { url: config.url },
    runId,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    management: { available: !!mgmt, reason: mgmt ? undefined : reason },
    features: config.features,
    summary: countOf(results),
    areas: AREAS.map((a) => ({ ...a, ...countOf(results.filter((r) => r.area === a.id)) })).filter((a) => a.total > 0),
    checks: results,
    harnessNotes,
  };
}
