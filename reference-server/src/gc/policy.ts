/**
 * GC policy: the grace period and what happens to untagged manifests, from the `gc:` config section,
 * per repository, and overridden per run by the API/CLI. Validated here (config.ts passes `gc` through raw).
 *
 *   gc:
 *     schedule_seconds: 3600               # run over the whole registry every hour (absent: no schedule)
 *     grace_seconds: 600                   # nothing uploaded/linked/referenced more recently is swept
 *     delete_untagged_after_seconds: 86400 # untagged manifests older than this are deleted (absent: kept)
 *     repositories:                        # per Nitro repository id, same keys
 *       my-project: { grace_seconds: 60 }
 */
export interface GcPolicy {
  readonly graceSeconds: number;
  /** Delete untagged manifests older than untaggedAfterSeconds. */
  readonly deleteUntagged: boolean;
  readonly untaggedAfterSeconds: number;
}

export interface GcRunOptions {
  readonly dryRun?: boolean;
  readonly deleteUntagged?: boolean;
  readonly graceSeconds?: number;
}

export interface GcConfig {
  readonly scheduleSeconds: number | null;
  readonly defaults: GcPolicyOverrides;
  readonly repositories: Readonly<Record<string, GcPolicyOverrides>>;
}

interface GcPolicyOverrides {
  readonly graceSeconds?: number;
  readonly untaggedAfterSeconds?: number;
}

export const DEFAULT_GRACE_SECONDS = 600;

export class GcConfigError extends Error {
  override name = 'ConfigError'; // the CLI dispatcher reports ConfigError as a usage error
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function seconds(v: unknown, key: string): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new GcConfigError(`${key} must be a non-negative number of seconds`);
  return n;
}

function overrides(raw: Record<string, unknown>, where: string): GcPolicyOverrides {
  const out: { graceSeconds?: number; untaggedAfterSeconds?: number } = {};
  if (raw.grace_seconds !== undefined) out.graceSeconds = seconds(raw.grace_seconds, `${where}.grace_seconds`);
  if (raw.delete_untagged_after_seconds !== undefined && raw.delete_untagged_after_seconds !== null) {
    out.untaggedAfterSeconds = seconds(raw.delete_untagged_after_seconds, `${where}.delete_untagged_after_seconds`);
  }
  return out;
}

const KNOWN = new Set(['schedule_seconds', 'grace_seconds', 'delete_untagged_after_seconds', 'repositories']);

export function parseGcConfig(raw: Record<string, unknown> = {}): GcConfig {
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) throw new GcConfigError(`gc.${k}: unknown setting`);
  const repositories: Record<string, GcPolicyOverrides> = {};
  if (raw.repositories !== undefined) {
    if (!isObj(raw.repositories)) throw new GcConfigError('gc.repositories must map repository ids to settings');
    for (const [id, v] of Object.entries(raw.repositories)) {
      if (!isObj(v)) throw new GcConfigError(`gc.repositories.${id} must be a mapping`);
      repositories[id] = overrides(v, `gc.repositories.${id}`);
    }
  }
  const schedule = raw.schedule_seconds === undefined || raw.schedule_seconds === null ? null : seconds(raw.schedule_seconds, 'gc.schedule_seconds');
  return { scheduleSeconds: schedule && schedule > 0 ? schedule : null, defaults: overrides(raw, 'gc'), repositories };
}

/** The policy of one run: config defaults < repository settings < the run's own options. */
export function resolvePolicy(config: GcConfig, scopeId: string, run: GcRunOptions = {}): GcPolicy {
  const repo = config.repositories[scopeId] ?? {};
  const graceSeconds = run.graceSeconds ?? repo.graceSeconds ?? config.defaults.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  const configuredUntagged = repo.untaggedAfterSeconds ?? config.defaults.untaggedAfterSeconds;
  const deleteUntagged = run.deleteUntagged ?? configuredUntagged !== undefined;
  // Asked for on a run without a configured age: the grace period is the age (an untagged manifest is
  // never deleted faster than anything else).
  return { graceSeconds, deleteUntagged, untaggedAfterSeconds: configuredUntagged ?? graceSeconds };
}
