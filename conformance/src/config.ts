// Suite configuration: a YAML file (optional) overlaid by environment variables, overlaid by CLI flags.
// Environment names reuse the OCI distribution-spec conformance suite's where the meaning is the same.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { FEATURES, type FeatureId } from './features.js';
import type { Level } from './harness/types.js';
import { credentialsFromDockerConfig } from './http/docker-config.js';
import { parseHooks, type HooksConfig } from './setup/hooks.js';

/** A usage or configuration problem: the CLI prints its message (no stack) and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Credentials {
  username: string;
  password: string;
  /** OAuth2 refresh token (`identitytoken` that `docker login` stored): used with grant_type=refresh_token. */
  identityToken?: string;
}

/** Features the configuration declares (true: expected, a missing one fails; false: reported unsupported).
 *  Anything not declared is probed (features.ts). */
export type DeclaredFeatures = Partial<Record<FeatureId, boolean>>;

export interface PushRuleTarget {
  /** Repository the rule is on; with the management API the suite creates one when omitted. */
  repository?: string;
}

export interface PushRulesConfig {
  tagOverwrite?: PushRuleTarget;
  projectMember?: PushRuleTarget & { nonMember?: Credentials };
  authToken?: PushRuleTarget & { token?: Credentials; password?: Credentials };
  contentTrust?: PushRuleTarget & { privateKeyPem?: string };
}

export type GcTrigger = 'auto' | 'nitro-api' | 'hooks' | 'command' | 'none';

export interface GcConfig {
  trigger: GcTrigger;
  /** Shell command for trigger=command (kept for old config files; the same as hooks.gc.command). */
  command?: string;
  graceSeconds: number;
}

export type SetupKind = 'auto' | 'nitro-api' | 'hooks' | 'none';

/**
 * The optional `oidc` area: where to get an OIDC token of an issuer the registry trusts (a command that
 * prints one, e.g. a CI job's token fetcher, or a file), the Basic user name that carries it, a repository
 * the registry's rules grant that token pull+push on, and optionally one they do not grant push on.
 */
export interface OidcConfig {
  tokenCommand?: string;
  tokenFile?: string;
  username: string;
  repository: string;
  deniedRepository?: string;
}

export interface SuiteConfig {
  url: string;
  credentials?: Credentials;
  /** Where the credentials came from (for the report; never the secret). */
  credentialSource: string;
  namespace: string;
  crossmountNamespace: string;
  features: DeclaredFeatures;
  pushRules: PushRulesConfig;
  gc: GcConfig;
  /** The oidc area's token source; absent: the area is skipped. */
  oidc?: OidcConfig;
  /** auto: the Nitro management API when detected, else hooks when configured; none: neither. */
  setup: SetupKind;
  hooks?: HooksConfig;
  /** Failures of checks (or assertions) at this level or stronger fail the run. */
  level: Level;
  /** PEM file of extra CA certificates to trust (besides Node's bundle and NODE_EXTRA_CA_CERTS). */
  caCert?: string;
  /** Allow plain HTTP to a registry that is not on loopback, and TLS certificates that do not verify. */
  insecure: boolean;
  /** Remove what the run pushed (default on). */
  cleanup: boolean;
  only: string[];
  reportDir?: string;
  debug: boolean;
  hideSkipped: boolean;
  deleteManifestBeforeBlobs: boolean;
  largeLayerMiB: number;
  requestTimeoutMs: number;
  /** Checks run side by side (each in its own repositories); GC checks always run alone. */
  concurrency: number;
}

type Env = Record<string, string | undefined>;

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase());
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`not a number: ${v}`);
  return n;
}

function creds(v: unknown): Credentials | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.username !== 'string' || typeof o.password !== 'string') return undefined;
  return { username: o.username, password: o.password };
}

/** Map of env var → feature key, plus the OCI suite's area switches. */
const FEATURE_ENV: Record<string, FeatureId> = {
  NITRO_EXPECT_REFERRERS: 'referrers',
  NITRO_EXPECT_DELETES: 'deletes',
  NITRO_EXPECT_DELETE_BY_TAG: 'deleteByTag',
  NITRO_EXPECT_MOUNT_WITHOUT_FROM: 'mountWithoutFrom',
  // The OCI suite's name for the same thing (automatic content discovery when mounting without `from`).
  OCI_AUTOMATIC_CROSSMOUNT: 'mountWithoutFrom',
  NITRO_EXPECT_SHA512: 'sha512',
  NITRO_EXPECT_CATALOG: 'catalog',
  NITRO_EXPECT_MANIFEST_SIZE_LIMIT: 'manifestSizeLimit',
  NITRO_EXPECT_RANGE: 'range',
  NITRO_EXPECT_TAG_PARAMS: 'tagParams',
};

/** YAML feature keys (snake_case) → feature ids. */
const YAML_FEATURES: Record<string, FeatureId> = Object.fromEntries(
  (Object.keys(FEATURES) as FeatureId[]).map((id) => [id.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), id]),
);

/** The OCI suite selects workflows with these; we map them onto areas. */
const OCI_WORKFLOW_ENV: Record<string, string[]> = {
  OCI_TEST_PULL: ['api', 'pull-push'],
  OCI_TEST_PUSH: ['api', 'pull-push'],
  OCI_TEST_CONTENT_DISCOVERY: ['discovery'],
  OCI_TEST_CONTENT_MANAGEMENT: ['content'],
};

export interface ConfigInputs {
  configPath?: string;
  url?: string;
  only?: string[];
  reportDir?: string;
  level?: string;
  caCert?: string;
  insecure?: boolean;
  env?: Env;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** Docker's rule: plain HTTP is fine for a loopback registry; anything else needs an explicit insecure flag. */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** `host[:port]` without a scheme means HTTPS, except on loopback (HTTP, like Docker). */
export function normaliseUrl(raw: string, insecure: boolean): string {
  let s = raw.trim().replace(/\/+$/, '');
  if (!/^[a-z]+:\/\//i.test(s)) s = (isLoopback(s.replace(/:\d+$/, '')) ? 'http://' : 'https://') + s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(`registry URL is not a URL: ${raw}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`registry URL must be http:// or https://, got ${raw}`);
  if (u.protocol === 'http:' && !isLoopback(u.hostname) && !insecure) {
    throw new ConfigError(`refusing plain HTTP to ${u.host}: only loopback registries may use http:// without --insecure (NITRO_INSECURE=1, insecure: true)`);
  }
  return s;
}

export async function loadConfig(inputs: ConfigInputs): Promise<SuiteConfig> {
  const env = inputs.env ?? process.env;
  const path = inputs.configPath ?? env.NITRO_CONFORMANCE_CONFIG;
  let y: Record<string, any> = {};
  if (path) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      y = (parseYaml(text) as Record<string, any>) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  const insecure = inputs.insecure ?? bool(env.NITRO_INSECURE) ?? (y.insecure === true);
  const rawUrl = inputs.url ?? env.OCI_ROOT_URL ?? y.url ?? '';
  if (!rawUrl) throw new ConfigError('no registry URL: pass --url, set OCI_ROOT_URL, or set `url:` in the config file');
  const url = normaliseUrl(String(rawUrl), insecure);

  const features: DeclaredFeatures = {};
  const yf = (y.features ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(yf)) {
    const id = YAML_FEATURES[k];
    if (!id) throw new ConfigError(`features.${k}: unknown feature (known: ${Object.keys(YAML_FEATURES).join(', ')})`);
    if (typeof v === 'boolean') features[id] = v;
    else if (v !== null && v !== 'auto') throw new ConfigError(`features.${k} must be true, false or auto`);
  }
  for (const [k, id] of Object.entries(FEATURE_ENV)) {
    const b = bool(env[k]);
    if (b !== undefined) features[id] = b;
  }

  let credentials: Credentials | undefined;
  let credentialSource = 'none (anonymous)';
  if (env.OCI_USERNAME !== undefined && env.OCI_PASSWORD !== undefined) {
    credentials = { username: env.OCI_USERNAME, password: env.OCI_PASSWORD };
    credentialSource = 'OCI_USERNAME/OCI_PASSWORD';
  } else if (creds(y.credentials)) {
    credentials = creds(y.credentials);
    credentialSource = 'config file';
  } else if (bool(env.NITRO_DOCKER_CONFIG) !== false && y.docker_config !== false) {
    const fromDocker = credentialsFromDockerConfig(new URL(url).host, env);
    if (fromDocker) {
      credentials = fromDocker.credentials;
      credentialSource = fromDocker.source;
    }
  }

  const yr = (y.push_rules ?? {}) as Record<string, any>;
  const pushRules: PushRulesConfig = {
    tagOverwrite: yr.tag_overwrite ? { repository: yr.tag_overwrite.repository } : undefined,
    projectMember: yr.project_member
      ? { repository: yr.project_member.repository, nonMember: creds(yr.project_member.non_member) }
      : undefined,
    authToken: yr.auth_token
      ? { repository: yr.auth_token.repository, token: creds(yr.auth_token.token), password: creds(yr.auth_token.password) }
      : undefined,
    contentTrust: yr.content_trust
      ? { repository: yr.content_trust.repository, privateKeyPem: yr.content_trust.private_key_pem }
      : undefined,
  };

  const yg = (y.gc ?? {}) as Record<string, any>;
  const trigger = (env.NITRO_GC_TRIGGER ?? yg.trigger ?? 'auto') as GcTrigger;
  if (!['auto', 'nitro-api', 'hooks', 'command', 'none'].includes(trigger)) throw new ConfigError(`gc.trigger must be auto|nitro-api|hooks|command|none, got ${trigger}`);
  const gc: GcConfig = {
    trigger,
    command: env.NITRO_GC_COMMAND ?? yg.command,
    graceSeconds: num(env.NITRO_GC_GRACE_SECONDS) ?? (typeof yg.grace_seconds === 'number' ? yg.grace_seconds : 0),
  };

  const yo = (y.oidc ?? {}) as Record<string, unknown>;
  const ystr = (k: string) => (typeof yo[k] === 'string' && yo[k] !== '' ? (yo[k] as string) : undefined);
  const tokenCommand = env.NITRO_OIDC_TOKEN_COMMAND || ystr('token_command');
  const tokenFile = env.NITRO_OIDC_TOKEN_FILE || ystr('token_file');
  let oidc: OidcConfig | undefined;
  if (tokenCommand || tokenFile) {
    const repository = env.NITRO_OIDC_REPOSITORY || ystr('repository');
    if (!repository) throw new ConfigError('oidc: a token source is set but no repository (oidc.repository / NITRO_OIDC_REPOSITORY) that its rules grant pull,push on');
    oidc = {
      ...(tokenCommand ? { tokenCommand } : { tokenFile }),
      username: env.NITRO_OIDC_USERNAME || ystr('username') || 'oidc',
      repository,
      deniedRepository: env.NITRO_OIDC_DENIED_REPOSITORY || ystr('denied_repository'),
    };
  }

  const ys = (y.setup ?? {}) as Record<string, any>;
  const setup = (env.NITRO_SETUP ?? (env.NITRO_MANAGEMENT === 'off' ? 'none' : undefined) ?? ys.adapter ?? (y.management === 'off' ? 'none' : 'auto')) as SetupKind;
  if (!['auto', 'nitro-api', 'hooks', 'none'].includes(setup)) throw new ConfigError(`setup.adapter must be auto|nitro-api|hooks|none, got ${setup}`);
  let hooks: HooksConfig | undefined;
  try {
    hooks = parseHooks(ys.hooks, gc.trigger === 'command' ? gc.command : undefined);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }

  const level = String(inputs.level ?? env.NITRO_LEVEL ?? y.level ?? 'must').toUpperCase() as Level;
  if (!['MUST', 'SHOULD', 'MAY'].includes(level)) throw new ConfigError(`--level must be must, should or may, got ${inputs.level ?? env.NITRO_LEVEL ?? y.level}`);

  let only = inputs.only ?? (env.NITRO_ONLY ? env.NITRO_ONLY.split(',') : undefined) ?? (Array.isArray(y.only) ? y.only : []);
  if (only.length === 0) {
    const fromOci = Object.entries(OCI_WORKFLOW_ENV).filter(([k]) => bool(env[k])).flatMap(([, areas]) => areas);
    only = [...new Set(fromOci)];
  }

  const ns = (y.namespaces ?? {}) as Record<string, unknown>;
  return {
    url,
    credentials,
    credentialSource,
    namespace: env.OCI_NAMESPACE ?? (typeof ns.push === 'string' ? ns.push : 'conformance'),
    crossmountNamespace: env.OCI_CROSSMOUNT_NAMESPACE ?? (typeof ns.crossmount === 'string' ? ns.crossmount : 'conformance-mount'),
    features,
    pushRules,
    gc,
    ...(oidc ? { oidc } : {}),
    setup,
    hooks,
    level,
    caCert: inputs.caCert ?? env.NITRO_CA_CERT ?? y.ca_cert,
    insecure,
    cleanup: bool(env.NITRO_CLEANUP) ?? (y.cleanup !== false),
    only: only.map((s: string) => s.trim()).filter(Boolean),
    reportDir: inputs.reportDir ?? env.OCI_REPORT_DIR ?? y.report_dir,
    debug: bool(env.OCI_DEBUG) ?? false,
    hideSkipped: bool(env.OCI_HIDE_SKIPPED_WORKFLOWS) ?? false,
    deleteManifestBeforeBlobs: bool(env.OCI_DELETE_MANIFEST_BEFORE_BLOBS) ?? true,
    largeLayerMiB: num(env.NITRO_LARGE_LAYER_MIB) ?? (typeof y.large_layer_mib === 'number' ? y.large_layer_mib : 16),
    requestTimeoutMs: num(env.NITRO_REQUEST_TIMEOUT_MS) ?? 30_000,
    concurrency: Math.max(1, Math.floor(num(env.NITRO_CONCURRENCY) ?? (typeof y.concurrency === 'number' ? y.concurrency : 4))),
  };
}
