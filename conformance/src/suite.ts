// One conformance run: learn how the registry authenticates, probe its optional features, pick the setup adapter
// (Nitro management API, hooks, or none), run the selected checks, remove what the run pushed, and return a report
// object with a stable schema (see README "JSON report").
import { randomBytes } from 'node:crypto';
import type { SuiteConfig } from './config.js';
import { ALL_CHECKS } from './checks/index.js';
import { FeatureTable, probeFeatures, type FeatureEntry } from './features.js';
import { runChecks, selected } from './harness/runner.js';
import { AREAS, levelRank, type AreaId, type CheckDef, type CheckResult, type Level, type Outcome } from './harness/types.js';
import { AuthSession } from './http/auth.js';
import { HttpClient, type Exchange } from './http/client.js';
import { Ledger, type CleanupResult } from './http/ledger.js';
import { makeTransport } from './http/transport.js';
import type { SetupAdapter } from './setup/adapter.js';
import { HooksAdapter } from './setup/hooks.js';
import { detectManagement, ManagementSession } from './setup/management.js';

export const REPORT_SCHEMA = 'nitro-registry/conformance-report@1';

export type Counts = Record<Outcome, number> & { total: number };

export interface SuiteReport {
  schema: typeof REPORT_SCHEMA;
  target: { url: string };
  runId: string;
  startedAt: string;
  durationMs: number;
  /** Failures at this level or stronger fail the run. */
  level: Level;
  /** Checks whose failure fails the run at `level`, and harness errors. */
  failing: number;
  /** How accounts, rules and GC were set up (nitro-api, hooks) or why not. */
  setup: { adapter: string | null; reason?: string };
  /** Kept for readers of schema @1: whether the Nitro management API was used. */
  management: { available: boolean; reason?: string };
  features: Record<string, FeatureEntry & { title: string }>;
  summary: Counts;
  areas: Array<{ id: AreaId; title: string } & Counts>;
  checks: CheckResult[];
  /** What the run removed afterwards, and what it could not. */
  cleanup: CleanupResult & { setup: string[] };
  /** Problems outside any check (setup, probing, cleanup). */
  harnessNotes: string[];
}

export function countOf(results: CheckResult[]): Counts {
  const c: Counts = { passed: 0, failed: 0, unsupported: 0, skipped: 0, error: 0, total: results.length };
  for (const r of results) c[r.outcome]++;
  return c;
}

/** Whether a result fails the run at `level`: a harness error always does, a failure when strong enough. */
export function failsRun(r: CheckResult, level: Level): boolean {
  return r.outcome === 'error' || (r.outcome === 'failed' && levelRank(r.failedLevel ?? r.level) >= levelRank(level));
}

export interface SuiteOptions {
  checks?: CheckDef[];
  onResult?: (r: CheckResult) => void;
}

async function chooseSetup(config: SuiteConfig, http: HttpClient, runId: string): Promise<{ adapter?: SetupAdapter; reason?: string; nitro: boolean }> {
  if (config.setup === 'none') return { reason: 'setup disabled (setup.adapter: none)', nitro: false };
  let nitroReason: string | undefined;
  if (config.setup === 'auto' || config.setup === 'nitro-api') {
    nitroReason = await detectManagement(http, config.credentials).catch((e: Error) => `management probe failed: ${e.message}`);
    if (!nitroReason && config.credentials) return { adapter: new ManagementSession(http, config.credentials, runId), nitro: true };
    if (config.setup === 'nitro-api') return { reason: nitroReason, nitro: false };
  }
  if (config.hooks) return { adapter: new HooksAdapter(config.hooks, runId), nitro: false, reason: nitroReason };
  return { reason: `${nitroReason ?? 'no Nitro management API'}; no setup hooks configured (setup.hooks)`, nitro: false };
}

export async function runSuite(config: SuiteConfig, o: SuiteOptions = {}): Promise<SuiteReport> {
  const started = Date.now();
  const runId = randomBytes(3).toString('hex');
  const harnessNotes: string[] = [];
  const session = new AuthSession(config.credentials);
  const setupTranscript: Exchange[] = [];
  const transport = await makeTransport(config);
  const ledger = config.cleanup ? new Ledger() : undefined;
  const setupHttp = new HttpClient({ baseUrl: config.url, session, transcript: setupTranscript, timeoutMs: config.requestTimeoutMs, debug: config.debug, transport, ledger });

  // Learn the challenge once up front so streamed uploads (which cannot be replayed after a 401) carry auth.
  const probe = await setupHttp.request('GET', '/v2/', { auth: 'none' });
  if (probe.status === 401) session.learn(probe.headers.get('www-authenticate'));

  const chosen = await chooseSetup(config, setupHttp, runId);
  const setup = chosen.adapter;
  if (config.gc.trigger === 'none') {
    if (setup) setup.gc = undefined;
  }

  const features = new FeatureTable(config.features);
  const checks = (o.checks ?? ALL_CHECKS).filter((c) => selected(c, config.only));
  // Probing pushes a little into its own repository: only worth it when a selected check depends on a feature.
  if (checks.some((c) => c.feature)) {
    harnessNotes.push(...(await probeFeatures(setupHttp, features, `${config.namespace}/${runId}-probe`, config.credentials)));
  }
  setupTranscript.length = 0;

  let results: CheckResult[] = [];
  const cleanup: SuiteReport['cleanup'] = { removed: { manifests: 0, blobs: 0, uploads: 0 }, leftovers: [], setup: [] };
  try {
    results = await runChecks({ config, checks, setup, features, session, onResult: o.onResult, runId, ledger, transport });
  } finally {
    if (ledger) {
      const released = (await setup?.release?.()) ?? [];
      Object.assign(cleanup, await ledger.cleanup(setupHttp));
      cleanup.leftovers.push(...released);
    }
    else cleanup.leftovers.push('cleanup disabled (cleanup: false / NITRO_CLEANUP=0): everything the run pushed is left in place');
    if (setup) cleanup.setup = await setup.cleanup();
  }
  const level = config.level;
  return {
    schema: REPORT_SCHEMA,
    target: { url: config.url },
    runId,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    level,
    failing: results.filter((r) => failsRun(r, level)).length,
    setup: { adapter: setup?.kind ?? null, reason: setup ? undefined : chosen.reason },
    management: { available: chosen.nitro, reason: chosen.nitro ? undefined : chosen.reason },
    features: features.toJSON(),
    summary: countOf(results),
    areas: AREAS.map((a) => ({ ...a, ...countOf(results.filter((r) => r.area === a.id)) })).filter((a) => a.total > 0),
    checks: results,
    cleanup,
    harnessNotes,
  };
}
