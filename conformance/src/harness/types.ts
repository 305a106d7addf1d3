// Shared shapes of the conformance harness: check definitions, their context and their results.
import type { Test } from 'tap';
import type { SuiteConfig } from '../config.js';
import type { HttpClient, Exchange } from '../http/client.js';
import type { ManagementSession } from '../setup/management.js';

/** A node-tap Test with its built-in assertion plugins (equal, match, ok, …). */
export type TapTest = Test;

export type AreaId = 'api' | 'pull-push' | 'discovery' | 'content' | 'shapes' | 'auth' | 'rules' | 'gc';

export const AREAS: ReadonlyArray<{ id: AreaId; title: string }> = [
  { id: 'api', title: 'API version & errors' },
  { id: 'pull-push', title: 'Pull & push' },
  { id: 'discovery', title: 'Discovery' },
  { id: 'content', title: 'Content management' },
  { id: 'shapes', title: 'Real-world shapes' },
  { id: 'auth', title: 'Auth flow' },
  { id: 'rules', title: 'Push rules' },
  { id: 'gc', title: 'Garbage collection' },
];

export type Outcome = 'passed' | 'failed' | 'skipped' | 'error';

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
  /** Present when the Nitro management API was detected and set up. */
  mgmt?: ManagementSession;
  /** End the check as skipped, with the reason shown in reports. */
  skip(reason: string): never;
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
  /** Returns a skip reason when the configuration does not enable this check. */
  enabled?: (config: SuiteConfig, mgmt: ManagementSession | undefined) => string | undefined;
  timeoutMs?: number;
  /** Runs alone after all other checks (it affects the whole registry, e.g. GC). */
  exclusive?: boolean;
  run(t: TapTest, ctx: CheckContext): Promise<void>;
}

export interface AssertionRecord {
  name: string;
  found?: unknown;
  wanted?: unknown;
  diff?: string;
}

export interface CheckResult {
  id: string;
  area: AreaId;
  title: string;
  spec: string;
  outcome: Outcome;
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

/** Thrown by `ctx.skip`. */
export class SkipSignal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Thrown by helpers when the registry answered in a way that makes the check impossible to go on. */
export class RegistryFailure extends Error {}
