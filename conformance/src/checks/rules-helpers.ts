// Where a push-rule or GC check pushes: a configured repository, or one the suite creates through the
// management API. A Nitro repository owns the image names equal to its name or under `name/`.
import type { CheckContext } from '../harness/types.js';
import type { PushRules } from '../setup/management.js';
import type { PushRulesConfig } from '../config.js';

export interface RuleTarget {
  /** Nitro repository (= project) name. */
  repository: string;
  /** Repository id when created through the management API. */
  id?: string | number;
  /** An image name inside it, fresh for this check. */
  image: string;
}

export async function ruleTarget(
  ctx: CheckContext,
  key: keyof PushRulesConfig,
  rules: Partial<PushRules>,
  publicKeys: string[] = [],
): Promise<RuleTarget> {
  const configured = ctx.config.pushRules[key]?.repository;
  const slug = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  // A unique image per call: several checks share one configured repository, and under a no-overwrite rule
  // two checks pushing `:v1` to the same image name would refuse each other.
  if (configured) return { repository: configured, image: `${configured}/nc-${ctx.runId}-${slug}-${Math.random().toString(36).slice(2, 6)}` };
  if (!ctx.mgmt) ctx.skip(`push rule ${slug}: no repository configured (push_rules.${slug.replace(/-/g, '_')}.repository) and no management API`);
  const repository = `nc${ctx.runId}-${slug}-${Math.random().toString(36).slice(2, 6)}`;
  const id = await ctx.mgmt.createRepository(repository, rules, publicKeys);
  return { repository, id, image: `${repository}/app` };
}

/** A repository for GC checks: created through the management API when GC is triggered through it. */
export async function gcTarget(ctx: CheckContext): Promise<RuleTarget> {
  if (ctx.config.gc.trigger === 'nitro-api') {
    if (!ctx.mgmt) ctx.skip('gc.trigger is nitro-api but the management API is not available');
    const repository = `nc${ctx.runId}-gc-${Math.random().toString(36).slice(2, 6)}`;
    const id = await ctx.mgmt.createRepository(repository, {});
    return { repository, id, image: `${repository}/app` };
  }
  const image = ctx.repo('');
  return { repository: image, image };
}
