/**
 * Counters with a time window, shared by all replicas (failed logins per address/user, upload sessions
 * per account). Implementations: sqlite/throttle-store.ts, postgres/throttle-store.ts.
 */
export interface ThrottleWindow {
  readonly count: number;
  /** Start of the current window (ms). */
  readonly since: number;
}

export interface ThrottleStore {
  /** Adds one to each key's counter (starting a new window when the old one is over); returns the new states. */
  hit(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]>;
  /** Current states (count 0 when absent or expired). */
  peek(keys: readonly string[], windowMs: number, now: number): Promise<ThrottleWindow[]>;
  reset(key: string): Promise<void>;
}
