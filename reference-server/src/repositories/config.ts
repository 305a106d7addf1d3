/**
 * The Nitro repository document, exactly as the quick reference writes it:
 *   {"type":"Hosted"}
 *   {"type":"Hosted","push_rules":{"allow_tag_overwrite":false,"must_be_project_member":false,
 *    "must_use_auth_token_for_push":false,"require_content_trust":false}}
 * plus the trusted signing keys for content trust: "content_trust":{"public_keys":["-----BEGIN PUBLIC KEY-----…"]}.
 * Validation is strict (unknown keys are refused) so a typo in a rule name cannot silently disable it.
 */
import { createPublicKey } from 'node:crypto';

export interface PushRules {
  /** false: a tag, once pushed, keeps its digest (409 on overwrite, tag delete refused). */
  readonly allow_tag_overwrite: boolean;
  /** true: push and delete need the write role in the image's project. */
  readonly must_be_project_member: boolean;
  /** true: pushes must be authenticated with an access token, not an account password. */
  readonly must_use_auth_token_for_push: boolean;
  /** true: manifests are served only with a verified signature. */
  readonly require_content_trust: boolean;
}

export interface ContentTrust {
  /** PEM SubjectPublicKeyInfo keys (ECDSA P-256/P-384, RSA, Ed25519). */
  readonly public_keys: readonly string[];
}

export interface RepositoryConfig {
  readonly type: 'Hosted';
  readonly push_rules?: Partial<PushRules>;
  readonly content_trust?: ContentTrust;
}

/**
 * Rule values when a repository does not list them: the quick reference's "Configuration Options" table,
 * where every rule defaults to `false`. So a repository created through the API or the config file
 * with `{"type":"Hosted"}` has immutable tags (allow_tag_overwrite=false) until it says otherwise.
 */
export const DEFAULT_RULES: PushRules = {
  allow_tag_overwrite: false,
  must_be_project_member: false,
  must_use_auth_token_for_push: false,
  require_content_trust: false,
};

/**
 * The built-in `default` repository (it owns every name no other repository claims) is what a plain
 * `docker push host/app:latest` lands in, like registry:2: its unlisted rules allow overwrites, so
 * pushing `:latest` twice works out of the box. Stated in the serve banner and docs/auth.md; a config
 * file declaration named `default` (or PUT /api/repository/default/config) can list other values.
 */
export const DEFAULT_REPOSITORY_RULES: PushRules = { ...DEFAULT_RULES, allow_tag_overwrite: true };

export const effectiveRules = (c: RepositoryConfig, base: PushRules = DEFAULT_RULES): PushRules => ({ ...base, ...(c.push_rules ?? {}) });

/** One line listing rules, e.g. for the serve banner: `allow_tag_overwrite=true, must_be_project_member=false, …`. */
export const describeRules = (r: PushRules): string => (Object.keys(r) as (keyof PushRules)[]).map((k) => `${k}=${r[k]}`).join(', ');

export class RepositoryConfigError extends Error {
  override name = 'RepositoryConfigError';
  /** For a config file declaration: bin/nitro-registry.js exits with it (setup-error.ts EXIT.usage). */
  readonly exitCode = 2;
}

const RULE_KEYS = Object.keys(DEFAULT_RULES) as (keyof PushRules)[];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a repository document; throws RepositoryConfigError with a message fit for an API client. */
export function parseRepositoryConfig(raw: unknown): RepositoryConfig {
  if (!isObj(raw)) throw new RepositoryConfigError('config must be a JSON object like {"type":"Hosted"}');
  for (const k of Object.keys(raw)) {
    if (!['type', 'push_rules', 'content_trust'].includes(k)) throw new RepositoryConfigError(`config: unknown key "${k}"`);
  }
  if (raw.type !== 'Hosted') throw new RepositoryConfigError('config.type must be "Hosted" (the only repository type served)');
  const out: { type: 'Hosted'; push_rules?: Partial<PushRules>; content_trust?: ContentTrust } = { type: 'Hosted' };
  if (raw.push_rules !== undefined) {
    if (!isObj(raw.push_rules)) throw new RepositoryConfigError('config.push_rules must be an object');
    const rules: Partial<Record<keyof PushRules, boolean>> = {};
    for (const [k, v] of Object.entries(raw.push_rules)) {
      if (!RULE_KEYS.includes(k as keyof PushRules)) {
        throw new RepositoryConfigError(`config.push_rules: unknown rule "${k}" (known: ${RULE_KEYS.join(', ')})`);
      }
      if (typeof v !== 'boolean') throw new RepositoryConfigError(`config.push_rules.${k} must be true or false`);
      rules[k as keyof PushRules] = v;
    }
    out.push_rules = rules;
  }
  if (raw.content_trust !== undefined) {
    const ct = raw.content_trust;
    if (!isObj(ct)) throw new RepositoryConfigError('config.content_trust must be an object');
    for (const k of Object.keys(ct)) {
      if (k !== 'public_keys') throw new RepositoryConfigError(`config.content_trust: unknown key "${k}"`);
    }
    const keys = ct.public_keys ?? [];
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw new RepositoryConfigError('config.content_trust.public_keys must be a list of PEM public keys');
    }
    keys.forEach((pem, i) => {
      try {
        const key = createPublicKey(pem as string);
        if (!['ec', 'rsa', 'rsa-pss', 'ed25519'].includes(key.asymmetricKeyType ?? '')) throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
      } catch (e) {
        throw new RepositoryConfigError(`config.content_trust.public_keys[${i}] is not a usable PEM public key: ${(e as Error).message}`);
      }
    });
    out.content_trust = { public_keys: keys as string[] };
  }
  return out;
}
