// What a push-rule, auth or GC check needs from the setup adapter (Nitro API or hooks), and where such a check
// pushes: a configured repository, or one the adapter creates.
import type { CheckContext } from '../harness/types.js';
import type { PushRulesConfig } from '../config.js';
import type { PushRules, SetupAdapter, SetupRepository } from '../setup/adapter.js';

type Action = 'createUser' | 'createToken' | 'setMember' | 'createRepository' | 'gc' | 'stats';
const HOOK_NAME: Record<Action, string> = {
  createUser: 'create_user',
  createToken: 'create_token',
  setMember: 'set_member',
  createRepository: 'create_repository',
  gc: 'gc',
  stats: 'stats',
};

/** The adapter's implementation of `action`, or a skip saying how to provide it. */
export function need<A extends Action>(ctx: CheckContext, action: A): NonNullable<SetupAdapter[A]> {
  const fn = ctx.setup?.[action];
  if (!fn) {
    ctx.skip(
      ctx.setup
        ? `the ${ctx.setup.kind} setup cannot ${HOOK_NAME[action].replace('_', ' ')} (configure setup.hooks.${HOOK_NAME[action]})`
        : `needs a setup adapter to ${HOOK_NAME[action].replace('_', ' ')}: no Nitro management API detected and no setup.hooks configured`,
    );
  }
  return fn as NonNullable<SetupAdapter[A]>;
}

export type RuleTarget = SetupRepository;

export async function ruleTarget(ctx: CheckContext, key: keyof PushRulesConfig, rules: Partial<PushRules>, publicKeys: string[] = []): Promise<RuleTarget> {
  const configured = ctx.config.pushRules[key]?.repository;
  const slug = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  // A unique image per call: several checks share one configured repository, and under a no-overwrite rule
  // two checks pushing `:v1` to the same image name would refuse each other.
  if (configured) return { repository: configured, image: `${configured}/nc-${ctx.runId}-${slug}-${Math.random().toString(36).slice(2, 6)}` };
  if (!ctx.setup?.createRepository) {
    ctx.skip(`push rule ${slug}: no repository configured (push_rules.${slug.replace(/-/g, '_')}.repository) and no setup adapter that creates repositories (Nitro API or setup.hooks.create_repository)`);
  }
  return ctx.setup.createRepository(slug, rules, publicKeys);
}

/** Where a GC check pushes: a repository the Nitro API creates (GC runs per repository there), else a fresh name. */
export async function gcTarget(ctx: CheckContext): Promise<RuleTarget> {
  need(ctx, 'gc');
  if (ctx.setup?.kind === 'nitro-api') return ctx.setup.createRepository!('gc', {});
  const image = ctx.repo('');
  return { repository: image, image };
}
