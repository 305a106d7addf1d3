/**
 * Failed-login limiter: per (client address, username) so one attacker cannot lock a user out from
 * everywhere, plus a looser per-address limit against spraying many usernames. The counters live in the
 * metadata backend's ThrottleStore, so every replica sees the same failures.
 */
import type { ThrottleStore } from '../metadata/throttle-store.js';

export class LoginRateLimiter {
  constructor(
    private readonly store: ThrottleStore,
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(ip: string, username: string): [string, number][] {
    return [
      [`login:u\0${ip}\0${username}`, this.maxFailures],
      [`login:a\0${ip}`, this.maxFailures * 5],
    ];
  }

  /** Seconds until another attempt is allowed, or 0 when allowed now. */
  async blockedFor(ip: string, username: string): Promise<number> {
    const keys = this.keys(ip, username);
    const now = this.now();
    const windows = await this.store.peek(
      keys.map(([k]) => k),
      this.windowMs,
      now,
    );
    let wait = 0;
    windows.forEach((w, i) => {
      if (w.count >= keys[i]![1]) wait = Math.max(wait, Math.ceil((w.since + this.windowMs - now) / 1000));
    });
    return wait;
  }

  async fail(ip: string, username: string): Promise<void> {
    await this.store.hit(
      this.keys(ip, username).map(([k]) => k),
      this.windowMs,
      this.now(),
    );
  }

  async succeed(ip: string, username: string): Promise<void> {
    await this.store.reset(this.keys(ip, username)[0]![0]);
  }
}
