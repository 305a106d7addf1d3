/**
 * Failed-login throttling that an attacker cannot turn against other accounts.
 *
 * Failures are counted per (client address, user) and per user — never per address alone: a flood of bad
 * logins for other or unknown user names from one address (or from a reverse proxy every client shares)
 * must not refuse the correct password of an account nobody attacked. Password spraying across many
 * accounts still meets each account's own counters.
 *
 *   (address, user)   after `maxFailures` failures within the window, exponential backoff
 *   user              after `userMaxFailures` failures from anywhere (a distributed attack on that account)
 *
 * Backoff: once a counter reaches its threshold T, the (T+k)-th failure is followed by a wait of 5·2^k
 * seconds, capped by the end of the counter's window (it starts over `window_seconds` after its first
 * failure).
 * Attempts made while waiting are refused (429, Retry-After) without checking the password and without
 * counting, so each allowed guess costs the attacker twice the time of the previous one, while a user
 * who mistyped a few times waits a second or two. A success clears the account's counters.
 *
 * The counters live in the metadata backend's ThrottleStore, so every replica sees the same failures.
 */
import type { ThrottleStore } from '../metadata/throttle-store.js';

export interface LoginLimits {
  /** Failures per (address, user) before the backoff starts. */
  readonly maxFailures: number;
  /** Failures per user from all addresses before the backoff starts. */
  readonly userMaxFailures: number;
  /** A counter starts over this long after its first failure (ms); also the longest wait. */
  readonly windowMs: number;
}

/** User names longer than any valid one are cut (the key still separates them from valid names). */
/** The first wait after the threshold; each further failure doubles it. */
const BACKOFF_BASE_MS = 5000;

/** The marker of a counter's latest failure over its threshold. */
const lastKey = (key: string) => `${key}\0last`;

const keyName = (username: string) => username.slice(0, 128).toLowerCase();

export class LoginRateLimiter {
  constructor(
    private readonly store: ThrottleStore,
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(ip: string, username: string): [string, number][] {
    const u = keyName(username);
    return [
      [`login:au\0${ip}\0${u}`, this.limits.maxFailures],
      [`login:u\0${u}`, this.limits.userMaxFailures],
    ];
  }

  /** Seconds until another attempt is allowed, or 0 when allowed now. */
  async blockedFor(ip: string, username: string): Promise<number> {
    const keys = this.keys(ip, username);
    const now = this.now();
    const { windowMs } = this.limits;
    const windows = await this.store.peek([...keys.map(([k]) => k), ...keys.map(([k]) => lastKey(k))], windowMs, now);
    let wait = 0;
    keys.forEach(([, threshold], i) => {
      const w = windows[i]!;
      if (w.count < threshold) return;
      const last = windows[i + keys.length]!;
      const from = last.count > 0 ? last.since : w.since;
      const backoffMs = Math.min(windowMs, BACKOFF_BASE_MS * 2 ** Math.min(w.count - threshold, 40));
      // The counter starts over when its window ends, and the wait with it.
      const until = Math.min(from + backoffMs, w.since + windowMs);
      if (until > now) wait = Math.max(wait, Math.ceil((until - now) / 1000));
    });
    return wait;
  }

  async fail(ip: string, username: string): Promise<void> {
    const keys = this.keys(ip, username);
    const now = this.now();
    const windows = await this.store.hit(
      keys.map(([k]) => k),
      this.limits.windowMs,
      now,
    );
    // Over the threshold, the wait runs from this failure: a window whose `since` is now marks it.
    for (let i = 0; i < keys.length; i++) {
      if (windows[i]!.count < keys[i]![1]) continue;
      const k = lastKey(keys[i]![0]);
      await this.store.reset(k);
      await this.store.hit([k], this.limits.windowMs, now);
    }
  }

  async succeed(ip: string, username: string): Promise<void> {
    for (const [k] of this.keys(ip, username)) {
      await this.store.reset(k);
      await this.store.reset(lastKey(k));
    }
  }
}
