/**
 * Failed-login limiter: per (client address, username) so one attacker cannot lock a user out from
 * everywhere, plus a looser per-address limit against spraying many usernames. In memory (one process);
 * bounded in size, oldest entries dropped first.
 */
const MAX_ENTRIES = 10_000;

interface Window {
  failures: number;
  start: number;
}

export class LoginRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private keys(ip: string, username: string): [string, number][] {
    return [
      [`u\0${ip}\0${username}`, this.maxFailures],
      [`a\0${ip}`, this.maxFailures * 5],
    ];
  }

  private current(key: string): Window | null {
    const w = this.windows.get(key);
    if (!w) return null;
    if (this.now() - w.start >= this.windowMs) {
      this.windows.delete(key);
      return null;
    }
    return w;
  }

  /** Seconds until another attempt is allowed, or 0 when allowed now. */
  blockedFor(ip: string, username: string): number {
    let wait = 0;
    for (const [key, limit] of this.keys(ip, username)) {
      const w = this.current(key);
      if (w && w.failures >= limit) wait = Math.max(wait, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
    }
    return wait;
  }

  fail(ip: string, username: string): void {
    for (const [key] of this.keys(ip, username)) {
      const w = this.current(key);
      if (w) w.failures++;
      else {
        if (this.windows.size >= MAX_ENTRIES) this.windows.delete(this.windows.keys().next().value!);
        this.windows.set(key, { failures: 1, start: this.now() });
      }
    }
  }

  succeed(ip: string, username: string): void {
    this.windows.delete(this.keys(ip, username)[0]![0]);
  }
}
