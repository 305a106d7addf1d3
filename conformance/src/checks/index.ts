// Every check, in report order. Ids are stable; add new checks, never rename old ones.
import type { CheckDef } from '../harness/types.js';
import { apiChecks } from './api.js';
import { authChecks } from './auth.js';
import { contentChecks } from './content.js';
import { discoveryChecks } from './discovery.js';
import { gcChecks } from './gc.js';
import { oidcChecks } from './oidc.js';
import { pullPushChecks } from './pull-push.js';
import { ruleChecks } from './rules.js';
import { shapeChecks } from './shapes.js';

export const ALL_CHECKS: CheckDef[] = [...apiChecks, ...pullPushChecks, ...discoveryChecks, ...contentChecks, ...shapeChecks, ...authChecks, ...oidcChecks, ...ruleChecks, ...gcChecks];

const seen = new Set<string>();
for (const c of ALL_CHECKS) {
  if (seen.has(c.id)) throw new Error(`duplicate check id ${c.id}`);
  seen.add(c.id);
}
