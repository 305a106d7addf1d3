/**
 * Probes for load balancers and orchestrators:
 *   GET /healthz  200 while the process serves requests at all (liveness)
 *   GET /readyz   200 when the database and the blob storage answer and the server is not draining;
 *                 503 otherwise, with the failing checks named (readiness: take this replica out of rotation)
 * Both are public and carry no secrets. Readiness results are cached for a second, so a probe storm
 * costs the backends one check per second.
 */
import type { Route } from '../route.js';
import { sendJson } from '../respond.js';

export interface HealthChecks {
  /** Named checks; each resolves when healthy and throws (with a short reason) when not. */
  readonly checks: Readonly<Record<string, () => Promise<void>>>;
  /** True once graceful shutdown has begun. */
  readonly draining: () => boolean;
}

const CACHE_MS = 1000;
const CHECK_TIMEOUT_MS = 5000;

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

export function healthRoutes(h: HealthChecks): Route[] {
  let cached: { at: number; results: Record<string, string> } | null = null;
  const run = async (): Promise<Record<string, string>> => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.results;
    const entries = await Promise.all(
      Object.entries(h.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (e) {
          return [name, (e as Error).message.split('\n')[0]!.slice(0, 200)] as const;
        }
      }),
    );
    cached = { at: Date.now(), results: Object.fromEntries(entries) };
    return cached.results;
  };

  return [
    {
      method: 'GET',
      name: 'healthz',
      pattern: /^\/healthz$/,
      access: () => ({ kind: 'public' }),
      async handle({ res }) {
        sendJson(res, 200, { status: 'alive' }, { 'Cache-Control': 'no-store' });
      },
    },
    {
      method: 'GET',
      name: 'readyz',
      pattern: /^\/readyz$/,
      access: () => ({ kind: 'public' }),
      async handle({ res }) {
        const checks = await run();
        const draining = h.draining();
        const ready = !draining && Object.values(checks).every((v) => v === 'ok');
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : draining ? 'draining' : 'unavailable', checks }, { 'Cache-Control': 'no-store' });
      },
    },
  ];
}
