/**
 * Configuration. Precedence, lowest to highest: built-in defaults < config file (YAML or JSON) <
 * environment variables (NITRO_REGISTRY_*) < command-line flags. Sections owned by other modules
 * (auth, repositories, gc) are passed through raw and validated by those modules.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { s3EnvSettings } from './storage/s3/env.js';

export interface Config {
  /** host:port to listen on. */
  listen: string;
  /** Data directory (blobs, uploads, metadata database). */
  dataDir: string;
  tls: { cert: string; key: string } | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  uploads: {
    /** Sessions idle longer than this are purged. */
    ttlSeconds: number;
    chunkMinLength: number;
  };
  deleteEnabled: boolean;
  maxPageSize: number;
  /** 'full' fsyncs the metadata database on every commit (see metadata/sqlite-store.ts). */
  durability: 'normal' | 'full';
  /** How long graceful shutdown waits for in-flight requests before aborting them. */
  shutdownGraceSeconds: number;
  /** Metadata database: null = SQLite under the data directory (the default); a postgres:// URL = PostgreSQL. */
  database: { url: string | null; poolSize: number };
  /** Blob storage driver. The s3 section is validated by the driver (storage/s3-config.ts). */
  storage: { driver: 'filesystem' | 's3'; s3: Record<string, unknown> };
  /** Connection, upload-session and disk limits (docs/operations.md). */
  limits: Limits;
  /** Raw sections for other modules. */
  auth: Record<string, unknown>;
  repositories: unknown[];
  gc: Record<string, unknown>;
}

export interface Limits {
  /** A client must send its complete request headers within this (node:http headersTimeout). */
  headersTimeoutSeconds: number;
  /** Whole request, headers and body, within this; 0 = no limit (large pushes take long: the body rate governs). */
  requestTimeoutSeconds: number;
  /** Body progress is checked over windows of this length… */
  bodyWindowSeconds: number;
  /** …and a body slower than this (bytes/s, averaged over a window; at least one byte) is cut. */
  bodyMinBytesPerSecond: number;
  /** Open chunked upload sessions per account (anonymous clients: per address only); 0 = no cap. */
  uploadSessionsPerAccount: number;
  /** Open chunked upload sessions per client address; 0 = no cap. */
  uploadSessionsPerAddress: number;
  /** /readyz reports `storage: low disk` below this many free bytes on the data directory's filesystem. */
  minFreeDiskBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  headersTimeoutSeconds: 30,
  requestTimeoutSeconds: 0,
  bodyWindowSeconds: 60,
  bodyMinBytesPerSecond: 1024,
  uploadSessionsPerAccount: 100,
  uploadSessionsPerAddress: 200,
  minFreeDiskBytes: 256 * 1024 * 1024,
};

/** Config key (snake_case, under `limits:`) → field. */
const LIMIT_KEYS: Record<string, keyof Limits> = {
  headers_timeout_seconds: 'headersTimeoutSeconds',
  request_timeout_seconds: 'requestTimeoutSeconds',
  body_window_seconds: 'bodyWindowSeconds',
  body_min_bytes_per_second: 'bodyMinBytesPerSecond',
  upload_sessions_per_account: 'uploadSessionsPerAccount',
  upload_sessions_per_address: 'uploadSessionsPerAddress',
  min_free_disk_bytes: 'minFreeDiskBytes',
};

export const DEFAULTS: Config = {
  listen: '127.0.0.1:5000',
  dataDir: './data',
  tls: null,
  logLevel: 'info',
  uploads: { ttlSeconds: 24 * 3600, chunkMinLength: 1024 * 1024 },
  deleteEnabled: true,
  maxPageSize: 10_000,
  durability: 'normal',
  shutdownGraceSeconds: 10,
  database: { url: null, poolSize: 10 },
  storage: { driver: 'filesystem', s3: {} },
  limits: DEFAULT_LIMITS,
  auth: {},
  repositories: [],
  gc: {},
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** bin/nitro-registry.js exits with it (setup-error.ts EXIT.usage). */
  readonly exitCode = 2;
}

/** How a setting is named in messages: the file's key, the environment variable, or the flag. */
const ENV_NAMES: Record<string, string> = {
  listen: 'NITRO_REGISTRY_LISTEN',
  data: 'NITRO_REGISTRY_DATA',
  log_level: 'NITRO_REGISTRY_LOG_LEVEL',
  tls: 'NITRO_REGISTRY_TLS_CERT/NITRO_REGISTRY_TLS_KEY',
  uploads: 'NITRO_REGISTRY_UPLOAD_TTL_SECONDS',
  database: 'NITRO_REGISTRY_DATABASE_URL',
  storage: 'NITRO_REGISTRY_STORAGE_DRIVER',
  auth: 'NITRO_REGISTRY_AUTH/NITRO_REGISTRY_EXTERNAL_URL',
};
const settingName = (source: string, key: string): string =>
  source === 'environment' ? (ENV_NAMES[key] ?? key) : source === 'flags' ? `--${key.replace(/_/g, '-')}` : `${source}: ${key}`;

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(v: unknown, key: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new ConfigError(`${key} must be a non-negative number`);
  return n;
}

function bool(v: unknown, key: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`${key} must be true or false`);
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Applies one layer of settings (file, env or flags share the same keys) onto `c`. */
function apply(c: Config, raw: Raw, source: string): void {
  for (const [key, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const k = settingName(source, key);
    switch (key) {
      case 'listen':
        if (typeof v !== 'string' || !/^(\[[0-9a-fA-F:]+\]|[^:]+):\d+$/.test(v)) throw new ConfigError(`${k} must be HOST:PORT (got ${JSON.stringify(v)})`);
        if (Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) throw new ConfigError(`${k}: port ${v.slice(v.lastIndexOf(':') + 1)} is above 65535`);
        c.listen = v;
        break;
      case 'data':
      case 'data_dir':
        if (typeof v !== 'string' || v === '') throw new ConfigError(`${k} must be a directory path`);
        c.dataDir = v;
        break;
      case 'tls':
        if (v === null) c.tls = null;
        else if (isObj(v) && typeof v.cert === 'string' && typeof v.key === 'string') c.tls = { cert: v.cert, key: v.key };
        else throw new ConfigError(`${k} needs cert and key file paths`);
        break;
      case 'log_level':
        if (typeof v !== 'string' || !LOG_LEVELS.has(v)) throw new ConfigError(`${k} must be one of ${[...LOG_LEVELS].join(', ')}`);
        c.logLevel = v as Config['logLevel'];
        break;
      case 'uploads':
        if (!isObj(v)) throw new ConfigError(`${k} must be a mapping`);
        if (v.ttl_seconds !== undefined) c.uploads.ttlSeconds = num(v.ttl_seconds, `${k}.ttl_seconds`);
        if (v.chunk_min_length !== undefined) c.uploads.chunkMinLength = num(v.chunk_min_length, `${k}.chunk_min_length`);
        break;
      case 'delete_enabled':
        c.deleteEnabled = bool(v, k);
        break;
      case 'max_page_size':
        c.maxPageSize = Math.max(1, num(v, k));
        break;
      case 'durability':
        if (v !== 'normal' && v !== 'full') throw new ConfigError(`${k} must be normal or full`);
        c.durability = v;
        break;
      case 'shutdown_grace_seconds':
        c.shutdownGraceSeconds = num(v, k);
        break;
      case 'database': {
        if (!isObj(v)) throw new ConfigError(`${k} must be a mapping like {url: postgres://user@host:5432/registry}`);
        for (const dk of Object.keys(v)) if (!['url', 'pool_size'].includes(dk)) throw new ConfigError(`${k}.${dk}: unknown setting (known: url, pool_size)`);
        if (v.url !== undefined) {
          if (v.url === null || v.url === '') c.database.url = null;
          else if (typeof v.url !== 'string' || !/^postgres(ql)?:\/\//.test(v.url)) throw new ConfigError(`${k}.url must be a postgres:// URL`);
          else c.database.url = v.url;
        }
        if (v.pool_size !== undefined) c.database.poolSize = Math.max(1, num(v.pool_size, `${k}.pool_size`));
        break;
      }
      case 'storage': {
        if (!isObj(v)) throw new ConfigError(`${k} must be a mapping like {driver: filesystem}`);
        for (const sk of Object.keys(v)) if (!['driver', 's3'].includes(sk)) throw new ConfigError(`${k}.${sk}: unknown setting (known: driver, s3)`);
        if (v.driver !== undefined) {
          if (v.driver !== 'filesystem' && v.driver !== 's3') throw new ConfigError(`${k}.driver must be filesystem or s3`);
          c.storage.driver = v.driver;
        }
        if (v.s3 !== undefined) {
          if (!isObj(v.s3)) throw new ConfigError(`${k}.s3 must be a mapping`);
          c.storage.s3 = { ...c.storage.s3, ...v.s3 };
        }
        break;
      }
      case 'limits':
        if (!isObj(v)) throw new ConfigError(`${k} must be a mapping`);
        for (const [lk, lv] of Object.entries(v)) {
          const field = LIMIT_KEYS[lk];
          if (!field) throw new ConfigError(`${k}.${lk}: unknown setting (known: ${Object.keys(LIMIT_KEYS).join(', ')})`);
          c.limits[field] = num(lv, `${k}.${lk}`);
        }
        break;
      case 'auth':
      case 'gc':
        if (!isObj(v)) throw new ConfigError(`${k} must be a mapping`);
        c[key] = { ...c[key], ...v };
        break;
      case 'repositories':
        if (!Array.isArray(v)) throw new ConfigError(`${k} must be a list`);
        c.repositories = v;
        break;
      default:
        throw new ConfigError(`${k}: unknown setting`);
    }
  }
}

export function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML is a superset of JSON
  } catch (e) {
    // The yaml library adds a code frame on the following lines; the first line names line and column.
    throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw new ConfigError(`config file ${file} must hold a mapping`);
  return doc;
}

/** Settings from NITRO_REGISTRY_* environment variables. */
export function envSettings(env: NodeJS.ProcessEnv): Raw {
  const out: Raw = {};
  if (env.NITRO_REGISTRY_LISTEN) out.listen = env.NITRO_REGISTRY_LISTEN;
  if (env.NITRO_REGISTRY_DATA) out.data = env.NITRO_REGISTRY_DATA;
  if (env.NITRO_REGISTRY_LOG_LEVEL) out.log_level = env.NITRO_REGISTRY_LOG_LEVEL;
  if (env.NITRO_REGISTRY_TLS_CERT || env.NITRO_REGISTRY_TLS_KEY) {
    out.tls = { cert: env.NITRO_REGISTRY_TLS_CERT, key: env.NITRO_REGISTRY_TLS_KEY };
  }
  if (env.NITRO_REGISTRY_UPLOAD_TTL_SECONDS) out.uploads = { ttl_seconds: env.NITRO_REGISTRY_UPLOAD_TTL_SECONDS };
  if (env.NITRO_REGISTRY_DATABASE_URL) out.database = { url: env.NITRO_REGISTRY_DATABASE_URL };
  const storage: Raw = {};
  if (env.NITRO_REGISTRY_STORAGE_DRIVER) storage.driver = env.NITRO_REGISTRY_STORAGE_DRIVER;
  const s3 = s3EnvSettings(env);
  if (Object.keys(s3).length > 0) storage.s3 = s3;
  if (Object.keys(storage).length > 0) out.storage = storage;
  const auth: Raw = {};
  if (env.NITRO_REGISTRY_AUTH) auth.enabled = bool(env.NITRO_REGISTRY_AUTH, 'NITRO_REGISTRY_AUTH');
  if (env.NITRO_REGISTRY_EXTERNAL_URL) auth.external_url = env.NITRO_REGISTRY_EXTERNAL_URL;
  if (Object.keys(auth).length > 0) out.auth = auth;
  return out;
}

export interface ConfigSources {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Flag settings, same keys as the file (listen, data, tls, log_level...). */
  flags?: Raw;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const c: Config = structuredClone(DEFAULTS);
  const env = sources.env ?? {};
  const file = sources.file ?? env.NITRO_REGISTRY_CONFIG;
  if (file) apply(c, readConfigFile(file), file);
  apply(c, envSettings(env), 'environment');
  if (sources.flags) apply(c, sources.flags, 'flags');
  c.dataDir = resolve(c.dataDir);
  return c;
}

/** Builds a Config from defaults plus `overrides` (programmatic use and tests). */
export function configFrom(overrides: Raw = {}): Config {
  const c: Config = structuredClone(DEFAULTS);
  apply(c, overrides, 'options');
  c.dataDir = resolve(c.dataDir);
  return c;
}
