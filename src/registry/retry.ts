/**
 * When a registry request is worth repeating. Retrying only helps for transient conditions:
 * read-after-write lag (a manifest just pushed is not yet visible: 404 MANIFEST_UNKNOWN), rate limiting
 * (429, honouring Retry-After) and server errors (5xx). Auth failures (401/403) never get better by
 * asking again, so they are returned at once.
 */
export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 5000 };

export interface RetryContext {
  status: number;
  /** The request is for a manifest that should exist (just pushed), so 404 may be lag. */
  notFoundMayBeLag: boolean;
  retryAfter: string | null;
}

/** Delay before the next attempt, or undefined when the response is final. `attempt` counts from 1. */
export function retryDelay(ctx: RetryContext, attempt: number, policy: RetryPolicy, now = Date.now()): number | undefined {
  if (attempt >= policy.attempts) return undefined;
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  if (ctx.status === 429) return Math.min(policy.maxDelayMs * 4, parseRetryAfter(ctx.retryAfter, now) ?? backoff);
  if (ctx.status >= 500 && ctx.status <= 599) return backoff;
  if (ctx.status === 404 && ctx.notFoundMayBeLag) return backoff;
  return undefined;
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
