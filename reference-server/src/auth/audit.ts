/**
 * Audit lines: one pino line with `audit: true` for every login, token issue, push, delete and denial.
 * Fields are names, digests and addresses, never secrets.
 */
import type { Logger } from 'pino';

export type AuditEvent =
  | 'login'
  | 'login_failed'
  | 'login_rate_limited'
  | 'token_issued'
  | 'push'
  | 'delete'
  | 'denied'
  | 'admin_change';

export interface Audit {
  event(event: AuditEvent, fields: Record<string, unknown>): void;
}

export function createAudit(log: Logger): Audit {
  const child = log.child({ audit: true });
  return {
    event(event, fields) {
      child.info({ event, ...fields }, `audit ${event}`);
    },
  };
}
