// Runs check definitions one by one, each inside its own node-tap Test, and turns the outcome into a CheckResult.
import { randomBytes } from 'node:crypto';
import { Test } from 'tap';
import type { SuiteConfig, Credentials } from '../config.js';
import type { FeatureTable } from '../features.js';
import { AuthSession } from '../http/auth.js';
import { HttpClient, type Exchange } from '../http/client.js';
import type { Ledger } from '../http/ledger.js';
import type { Transport } from '../http/transport.js';
import type { SetupAdapter } from '../setup/adapter.js';
import { SetupUnsupported } from '../setup/adapter.js';
import {
  levelRank,
  RegistryFailure,
  SkipSignal,
  UnsupportedSignal,
  type Level,
  type AssertionRecord,
  type CheckContext,
  type CheckDef,
  type CheckResult,
  type TapTest,
} from './types.js';

export interface RunOptions {
  config: SuiteConfig;
  checks: CheckDef[];
  setup?: SetupAdapter;
  features: FeatureTable;
  ledger?: Ledger;
  transport?: Transport;
  /** Shared by all checks so tokens are fetched once per scope. */
  session: AuthSession;
  onResult?: (r: CheckResult) => void;
  runId?: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

function slugify(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
}

/** True when a check id or area matches one of the `--only` filters (area id, id, or id prefix ending in '/'). */
export function selected(check: CheckDef, only: string[]): boolean {
  if (only.length === 0) return true;
  return only.some((f) => f === check.area || f === check.id || check.id.startsWith(f.endsWith('/') ? f : f + '/'));
}

export async function runChecks(o: RunOptions): Promise<CheckResult[]> {
  const runId = o.runId ?? randomBytes(3).toString('hex');
  const sessions = new Map<string, AuthSession>();
  const chosen = o.checks.filter((c) => selected(c, o.config.only));
  const results = new Map<CheckDef, CheckResult>();
  const runAndReport = async (check: CheckDef) => {
    const r = await runOne(check, o, runId, sessions);
    results.set(check, r);
    o.onResult?.(r);
  };
  // Checks use their own repositories, so most run side by side; registry-wide ones (GC) run alone, last.
  const shared = chosen.filter((c) => !c.exclusive);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(o.config.concurrency, shared.length)) }, async () => {
    while (next < shared.length) await runAndReport(shared[next++]!);
  });
  await Promise.all(workers);
  for (const c of chosen.filter((c) => c.exclusive)) await runAndReport(c);
  // Reports list checks in definition order whatever order they finished in.
  return chosen.map((c) => results.get(c)!);
}

async function runOne(
  check: CheckDef,
  o: RunOptions,
  runId: string,
  sessions: Map<string, AuthSession>,
): Promise<CheckResult> {
  const started = Date.now();
  const base = { id: check.id, area: check.area, title: check.title, spec: check.spec, level: check.level };
  const empty = { durationMs: 0, passes: 0, failures: [], notes: [], transcript: [], tap: '' };
  const disabled = check.enabled?.(o.config, o.setup);
  if (disabled) return { ...base, outcome: 'skipped', reason: disabled, ...empty };
  const missing = check.feature ? o.features.missing(check.feature) : undefined;
  if (missing) return { ...base, outcome: 'unsupported', reason: missing, ...empty };

  const transcript: Exchange[] = [];
  const notes: string[] = [];
  // The check's timeout aborts this signal, and with it every request the check still has in flight.
  const abort = new AbortController();
  const mk = (session: AuthSession) =>
    new HttpClient({
      baseUrl: o.config.url,
      session,
      transcript,
      timeoutMs: o.config.requestTimeoutMs,
      debug: o.config.debug,
      signal: abort.signal,
      ledger: o.ledger,
      transport: o.transport,
    });
  const sessionFor = (c: Credentials | 'anonymous'): AuthSession => {
    const key = c === 'anonymous' ? '' : `${c.username}\u0000${c.password}`;
    let s = sessions.get(key);
    if (!s) {
      s = new AuthSession(c === 'anonymous' ? undefined : c);
      // Everyone talks to the same registry: reuse what the main session learned about its challenge.
      s.challenge = o.session.challenge;
      sessions.set(key, s);
    }
    return s;
  };
  const slug = slugify(check.id);
  const ctx: CheckContext = {
    config: o.config,
    http: mk(o.session),
    client: (c) => mk(c ? sessionFor(c) : o.session),
    repo: (s) => `${o.config.namespace}/${runId}-${slug}${s ? '-' + slugify(s) : ''}`,
    crossRepo: (s) => `${o.config.crossmountNamespace}/${runId}-${slug}${s ? '-' + slugify(s) : ''}`,
    setup: o.setup,
    features: o.features,
    skip: (reason) => {
      throw new SkipSignal(reason);
    },
    unsupported: (reason) => {
      throw new UnsupportedSignal(reason);
    },
    note: (m) => notes.push(m),
    signal: abort.signal,
    runId,
  };

  const t = new Test({ name: check.id }) as TapTest;
  let tap = '';
  t.on('data', (d: Buffer | string) => (tap += d.toString()));

  let outcome: CheckResult['outcome'] = 'passed';
  let reason: string | undefined;
  let thrownLevel: Level | undefined;
  const timeoutMs = check.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(t, ctx),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`check timed out after ${timeoutMs} ms (its requests were cancelled)`);
          abort.abort(e);
          reject(e);
        }, timeoutMs);
      }),
    ]);
  } catch (e) {
    if (e instanceof SkipSignal) {
      outcome = 'skipped';
      reason = e.reason;
    } else if (e instanceof SetupUnsupported) {
      outcome = 'skipped';
      reason = `setup: ${e.message}`;
    } else if (e instanceof UnsupportedSignal) {
      outcome = 'unsupported';
      reason = e.reason;
    } else if (e instanceof RegistryFailure) {
      outcome = 'failed';
      reason = e.message;
      thrownLevel = e.level ?? check.level;
      t.fail(e.message, { level: thrownLevel });
    } else {
      outcome = 'error';
      reason = (e as Error)?.message ?? String(e);
      notes.push(`harness error: ${(e as Error)?.stack ?? e}`);
    }
  } finally {
    clearTimeout(timer);
    if (!abort.signal.aborted) abort.abort(new Error('check finished'));
  }
  if (outcome === 'skipped' || outcome === 'unsupported') t.pass(`${outcome}: ${reason}`);
  t.end();

  const failures = collectFailures(t, check.level);
  const passes = t.counts.pass;
  let failedLevel: Level | undefined;
  if (outcome === 'passed' || outcome === 'failed') {
    const failed = failures[0];
    if (failed) {
      outcome = 'failed';
      failedLevel = failures.reduce<Level>((a, f) => (levelRank(f.level) > levelRank(a) ? f.level : a), 'MAY');
      const strongest = failures.find((f) => f.level === failedLevel)!;
      reason ??= strongest.name + gotSuffix(strongest.found);
    } else if (outcome === 'passed' && passes === 0) {
      outcome = 'error';
      reason = 'check made no assertion';
    }
  }
  return {
    ...base,
    outcome,
    failedLevel,
    reason,
    durationMs: Date.now() - started,
    passes,
    failures,
    notes,
    transcript: outcome === 'failed' || outcome === 'error' ? transcript : [],
    tap,
  };
}

function collectFailures(t: TapTest, checkLevel: Level): AssertionRecord[] {
  // node-tap keeps failed results with their diagnostics (found/wanted/diff); passes only as counts.
  return t.lists.fail.map((f) => {
    const diag = (f.diag ?? {}) as Record<string, unknown>;
    const level = (['MUST', 'SHOULD', 'MAY'].includes(String(diag.level)) ? diag.level : checkLevel) as Level;
    // Checks pass `got`/`expected` in extras (tap turns found/wanted into a diff); t.equal/t.same give the diff.
    return { name: f.name, level, found: diag.got ?? diag.found, wanted: diag.expected ?? diag.wanted, diff: diag.diff as string | undefined };
  });
}

/** ` (got X)` for the one-line reason, so "HTTP 400" never reads as what the registry answered. */
function gotSuffix(found: unknown): string {
  if (found === undefined) return '';
  const text = typeof found === 'string' ? found : JSON.stringify(found);
  return ` (got ${text.length > 80 ? text.slice(0, 80) + '…' : text})`;
}
