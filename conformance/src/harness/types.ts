// Shared shapes of the conformance harness: check definitions, their context and their results.
import type { Test } from 'tap';
import type { SuiteConfig } from '../config.js';
import type { HttpClient, Exchange } from '../http/client.js';
import type { SetupAdapter } from '../setup/adapter.js';
import type { FeatureId, FeatureTable } from '../features.js';

/** A node-tap Test with its built-in assertion plugins (equal, match, ok, …). */
export type TapTest = Test;

export type AreaId = 'api' | 'pull-push' | 'discovery' | 'content' | 'shapes' | 'auth' | 'oidc' | 'rules' | 'gc';

export const AREAS: ReadonlyArray<{ id: AreaId; title: string }> = [
  { id: 'api', title: 'API version & errors' },
  { id: 'pull-push', title: 'Pull & push' },
  { id: 'discovery', title: 'Discovery' },
  { id: 'content', title: 'Content management' },
  { id: 'shapes', title: 'Real-world shapes' },
  { id: 'auth', title: 'Auth flow' },
  { id: 'oidc', title: 'OIDC token exchange (keyless CI)' },
  { id: 'rules', title: 'Push rules' },
  { id: 'gc', title: 'Garbage collection' },
];

/**
 * passed; failed (the registry broke an assertion); unsupported (an optional feature the registry does not offer,
 * found by probing or declared); skipped (the run cannot exercise it: no auth, no setup for accounts/rules/GC);
 * error (a harness problem: exception, timeout, network failure before an answer).
 */
export type Outcome = 'passed' | 'failed' | 'unsupported' | 'skipped' | 'error';

/** RFC 2119 strength of the requirement a check (or one assertion) rests on. */
export type Level = 'MUST' | 'SHOULD' | 'MAY';
export const LEVELS: readonly Level[] = ['MUST', 'SHOULD', 'MAY'];
/** MUST 3, SHOULD 2, MAY 1: a failure fails the run when its rank is at least the --level's. */
export const levelRank = (l: Level): number => 3 - LEVELS.indexOf(l);

/** What a check may use while it runs. One per check, so transcripts stay separate. */
export interface CheckContext {
  config: SuiteConfig;
  /** Client authenticated with the suite's main credentials; records every exchange. */
  http: HttpClient;
  /** Build a client with other credentials (or none) that records into the same transcript. */
  client(creds?: { username: string; password: string } | 'anonymous'): HttpClient;
  /** A fresh repository name in the push namespace, unique to this run and check. */
  repo(slug: string): string;
  /** A fresh repository name in the cross-mount namespace. */
  crossRepo(slug: string): string;
  /** How accounts, rules and GC are set up on this registry (Nitro API, hooks), when any is. */
  setup?: SetupAdapter;
  /** What the registry was found (or declared) to support. */
  features: FeatureTable;
  /** End the check as skipped, with the reason shown in reports. */
  skip(reason: string): never;
  /** End the check as unsupported: an optional feature the registry does not offer. */
  unsupported(reason: string): never;
  /** Aborted when the check times out: every request of the check is cancelled with it. */
  signal: AbortSignal;
  /** Record a diagnostic note shown with the check's transcript. */
  note(msg: string): void;
  runId: string;
}

export interface CheckDef {
  /** Stable id, e.g. `push/chunked/out-of-order-416`. Never rename: reports and expected-results key on it. */
  id: string;
  area: AreaId;
  /** One sentence saying what a conformant registry does. */
  title: string;
  /** The spec section the check rests on. */
  spec: string;
  /** Strength of the requirement (assertions may carry a weaker level of their own). */
  level: Level;
  /** Optional feature the check exercises: when the registry lacks it the check is "unsupported". */
  feature?: FeatureId;
  /** Returns a skip reason when the configuration does not enable this check. */
  enabled?: (config: SuiteConfig, setup: SetupAdapter | undefined) => string | undefined;
  timeoutMs?: number;
  /** Runs alone after all other checks (it affects the whole registry, e.g. GC). */
  exclusive?: boolean;
  run(t: TapTest, ctx: CheckContext): Promise<void>;
}

export interface AssertionRecord {
  name: string;
  /** Level of the requirement this assertion checks. */
  level: Level;
  found?: unknown;
  wanted?: unknown;
  diff?: string;
}

export interface CheckResult {
  id: string;
  area: AreaId;
  title: string;
  spec: string;
  level: Level;
  outcome: Outcome;
  /** For failed checks: the strongest level among the failed assertions (decides whether the run fails). */
  failedLevel?: Level;
  /** Skip reason, error message, or the first failed assertion. */
  reason?: string;
  durationMs: number;
  /** Number of passed assertions. */
  passes: number;
  /** Failed assertions with node-tap's found/wanted/diff. */
  failures: AssertionRecord[];
  notes: string[];
  /** HTTP exchanges, credentials redacted; kept for failed and errored checks. */
  transcript: Exchange[];
  /** The check's own TAP stream. */
  tap: string;
}

/** Thrown by `ctx.unsupported`. */
export class UnsupportedSignal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Thrown by `ctx.skip`. */
export class SkipSignal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Thrown by helpers when the registry answered in a way that makes the check impossible to go on. */
export class RegistryFailure extends Error {
  constructor(
    message: string,
    /** Level of the requirement broken; the check's own level when not given. */
    readonly level?: Level,
  ) {
    super(message);
  }
}
