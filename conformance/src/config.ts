// Suite configuration: a YAML file (optional) overlaid by environment variables, overlaid by CLI flags.
// Environment names reuse the OCI distribution-spec conformance suite's where the meaning is the same.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

export interface Credentials {
  username: string;
  password: string;
}

export interface Features {
  /** Referrers API (`GET /v2/<name>/referrers/<digest>`). */
  referrers: boolean;
  /** Manifest, tag and blob DELETE. */
  deletes: boolean;
  /** Deleting a manifest by tag (OCI 1.1 allows, Distribution 2.8 does not). */
  deleteByTag: boolean;
  /** `POST ?mount=` without `from` mounts (OCI 1.1 "MAY"). */
  mountWithoutFrom: boolean;
  /** sha512 digests. */
  sha512: boolean;
  /** `GET /v2/_catalog`. */
  catalog: boolean;
  /** Manifests over 4 MiB are refused with 413. */
  manifestSizeLimit: boolean;
}

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

export type GcTrigger = 'auto' | 'nitro-api' | 'command' | 'none';

export interface GcConfig {
  trigger: GcTrigger;
  /** Shell command for trigger=command; `{dryRun}` is replaced by `--dry-run` or ''. */
  command?: string;
  graceSeconds: number;
}

export interface SuiteConfig {
  url: string;
  credentials?: Credentials;
  namespace: string;
  crossmountNamespace: string;
  features: Features;
  pushRules: PushRulesConfig;
  gc: GcConfig;
  /** auto: probe for /api/ and use it with the credentials; off: never touch it. */
  management: 'auto' | 'off';
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

export const DEFAULT_FEATURES: Features = {
  referrers: true,
  deletes: true,
  deleteByTag: true,
  mountWithoutFrom: false,
  sha512: false,
  catalog: true,
  manifestSizeLimit: true,
};

type Env = Record<string, string | undefined>;

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase());
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
}

function creds(v: unknown): Credentials | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.username !== 'string' || typeof o.password !== 'string') return undefined;
  return { username: o.username, password: o.password };
}

/** Map of env var → feature key, plus the OCI suite's area switches. */
const FEATURE_ENV: Record<string, keyof Features> = {
  NITRO_EXPECT_REFERRERS: 'referrers',
  NITRO_EXPECT_DELETES: 'deletes',
  NITRO_EXPECT_DELETE_BY_TAG: 'deleteByTag',
  NITRO_EXPECT_MOUNT_WITHOUT_FROM: 'mountWithoutFrom',
  // The OCI suite's name for the same thing (automatic content discovery when mounting without `from`).
  OCI_AUTOMATIC_CROSSMOUNT: 'mountWithoutFrom',
  NITRO_EXPECT_SHA512: 'sha512',
  NITRO_EXPECT_CATALOG: 'catalog',
  NITRO_EXPECT_MANIFEST_SIZE_LIMIT: 'manifestSizeLimit',
};

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
  env?: Env;
}

export async function loadConfig(inputs: ConfigInputs): Promise<SuiteConfig> {
  const env = inputs.env ?? process.env;
  const path = inputs.configPath ?? env.NITRO_CONFORMANCE_CONFIG;
  const y: Record<string, any> = path ? ((parseYaml(await readFile(path, 'utf8')) as Record<string, any>) ?? {}) : {};

  const url = (inputs.url ?? env.OCI_ROOT_URL ?? y.url ?? '').replace(/\/+$/, '');
  if (!url) throw new Error('no registry URL: pass --url, set OCI_ROOT_URL, or set `url:` in the config file');

  const features: Features = { ...DEFAULT_FEATURES };
  const yf = (y.features ?? {}) as Record<string, unknown>;
  const yamlFeatureKeys: Record<string, keyof Features> = {
    referrers: 'referrers',
    deletes: 'deletes',
    delete_by_tag: 'deleteByTag',
    mount_without_from: 'mountWithoutFrom',
    sha512: 'sha512',
    catalog: 'catalog',
    manifest_size_limit: 'manifestSizeLimit',
  };
  for (const [k, key] of Object.entries(yamlFeatureKeys)) if (typeof yf[k] === 'boolean') features[key] = yf[k] as boolean;
  for (const [k, key] of Object.entries(FEATURE_ENV)) {
    const b = bool(env[k]);
    if (b !== undefined) features[key] = b;
  }

  const envCreds =
    env.OCI_USERNAME !== undefined && env.OCI_PASSWORD !== undefined
      ? { username: env.OCI_USERNAME, password: env.OCI_PASSWORD }
      : undefined;

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
  // 'auto': the Nitro API when the management API is detected (with admin credentials), else none.
  const trigger = (env.NITRO_GC_TRIGGER ?? yg.trigger ?? 'auto') as GcTrigger;
  if (!['auto', 'nitro-api', 'command', 'none'].includes(trigger)) throw new Error(`gc.trigger must be auto|nitro-api|command|none, got ${trigger}`);
  const gc: GcConfig = {
    trigger,
    command: env.NITRO_GC_COMMAND ?? yg.command,
    graceSeconds: num(env.NITRO_GC_GRACE_SECONDS) ?? (typeof yg.grace_seconds === 'number' ? yg.grace_seconds : 0),
  };

  let only = inputs.only ?? (env.NITRO_ONLY ? env.NITRO_ONLY.split(',') : undefined) ?? (Array.isArray(y.only) ? y.only : []);
  if (only.length === 0) {
    const fromOci = Object.entries(OCI_WORKFLOW_ENV).filter(([k]) => bool(env[k])).flatMap(([, areas]) => areas);
    only = [...new Set(fromOci)];
  }

  const ns = (y.namespaces ?? {}) as Record<string, unknown>;
  const management = (env.NITRO_MANAGEMENT ?? y.management ?? 'auto') as 'auto' | 'off';
  return {
    url,
    credentials: envCreds ?? creds(y.credentials),
    namespace: env.OCI_NAMESPACE ?? (typeof ns.push === 'string' ? ns.push : 'conformance'),
    crossmountNamespace: env.OCI_CROSSMOUNT_NAMESPACE ?? (typeof ns.crossmount === 'string' ? ns.crossmount : 'conformance-mount'),
    features,
    pushRules,
    gc,
    management: management === 'off' ? 'off' : 'auto',
    only: only.map((s: string) => s.trim()).filter(Boolean),
    reportDir: inputs.reportDir ?? env.OCI_REPORT_DIR ?? y.report_dir,
    debug: bool(env.OCI_DEBUG) ?? false,
    hideSkipped: bool(env.OCI_HIDE_SKIPPED_WORKFLOWS) ?? false,
    deleteManifestBeforeBlobs: bool(env.OCI_DELETE_MANIFEST_BEFORE_BLOBS) ?? true,
    largeLayerMiB: num(env.NITRO_LARGE_LAYER_MIB) ?? (typeof y.large_layer_mib === 'number' ? y.large_layer_mib : 64),
    requestTimeoutMs: num(env.NITRO_REQUEST_TIMEOUT_MS) ?? 30_000,
    concurrency: Math.max(1, Math.floor(num(env.NITRO_CONCURRENCY) ?? (typeof y.concurrency === 'number' ? y.concurrency : 4))),
  };
}
