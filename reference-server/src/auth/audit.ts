/**
 * Audit lines: one pino line with `audit: true` for every login, OIDC exchange, token issue, push,
 * delete and denial. Fields are names, digests and addresses, never secrets.
 */
import type { Logger } from 'pino';
import type { WorkloadIdentity } from '../registry/access.js';

export type AuditEvent =
  | 'login'
  | 'login_failed'
  | 'login_rate_limited'
  | 'oidc_exchange'
  | 'token_issued'
  | 'push'
  | 'delete'
  | 'denied'
  | 'admin_change';

export interface Audit {
  event(event: AuditEvent, fields: Record<string, unknown>): void;
}

/**
 * The workflow run behind a CI workload, under one `oidc` key (a push line's own `repository` is the
 * Nitro repository; the workflow's is `oidc.repository`): issuer, subject and GitHub's repository, ref,
 * workflow, run_id, actor, … as the token stated them.
 */
export function workloadFields(w: WorkloadIdentity | null | undefined): Record<string, unknown> {
  if (!w) return {};
  return { oidc: { issuer: w.issuer, subject: w.subject, ...w.claims } };
}

export function createAudit(log: Logger): Audit {
  const child = log.child({ audit: true });
  return {
    event(event, fields) {
      child.info({ event, ...fields }, `audit ${event}`);
    },
  };
}
