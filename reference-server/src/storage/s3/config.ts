/**
 * The `storage.s3` config section, validated, and the S3 client built from it.
 *
 *   storage:
 *     driver: s3
 *     s3: {endpoint, bucket, region, access_key_id, secret_access_key, session_token, force_path_style,
 *          redirect, redirect_expiry_seconds, prefix, part_size}
 *
 * Every key may also come from NITRO_REGISTRY_S3_<KEY> (config.ts merges those over the file). When no
 * access key is configured the SDK's default chain applies (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
 * AWS_SESSION_TOKEN, shared profiles, web identity, instance metadata), as with every AWS tool.
 * Errors name the setting, never a secret's value.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError } from '../../config.js';
import { S3_CONFIG_KEYS } from './env.js';

const MiB = 1024 * 1024;
/** S3's limits: every part but the last ≥ 5 MiB, at most 5 GiB, at most 10 000 parts. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;

export interface S3Settings {
  /** null: the AWS endpoint for the region. */
  readonly endpoint: string | null;
  readonly bucket: string;
  readonly region: string;
  /** null: the SDK's default credential chain. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
  readonly forcePathStyle: boolean;
  /** Blob GETs answered 307 to a presigned URL. */
  readonly redirect: boolean;
  readonly redirectExpirySeconds: number;
  /** Key prefix for everything this registry stores ('' or ending in '/'). */
  readonly prefix: string;
  /** Bytes per multipart part (all parts but the last). */
  readonly partSize: number;
}

const KNOWN = S3_CONFIG_KEYS;

const str = (raw: Record<string, unknown>, key: string): string | undefined => {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(`storage.s3.${key} must be a string`);
  return v;
};

const bool = (raw: Record<string, unknown>, key: string, dflt: boolean): boolean => {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`storage.s3.${key} must be true or false`);
};

const int = (raw: Record<string, unknown>, key: string, dflt: number, min: number, max: number): number => {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`storage.s3.${key} must be an integer from ${min} to ${max}`);
  }
  return n;
};

/** Bucket names as S3 defines them (3–63 lowercase letters, digits, '.', '-'). */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseS3Config(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): S3Settings {
  for (const k of Object.keys(raw)) {
    if (!(KNOWN as readonly string[]).includes(k)) throw new ConfigError(`storage.s3.${k}: unknown setting (known: ${KNOWN.join(', ')})`);
  }
  const bucket = str(raw, 'bucket');
  if (!bucket) throw new ConfigError('storage.s3.bucket is required with storage.driver s3 (or NITRO_REGISTRY_S3_BUCKET)');
  if (!BUCKET_RE.test(bucket)) throw new ConfigError('storage.s3.bucket is not a valid S3 bucket name');

  const endpoint = str(raw, 'endpoint') ?? null;
  if (endpoint !== null) {
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw new ConfigError('storage.s3.endpoint must be a URL like http://127.0.0.1:9000');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('storage.s3.endpoint must be an http:// or https:// URL');
    // Credentials in the URL would end up in logs and error messages.
    if (u.username || u.password) throw new ConfigError('storage.s3.endpoint must not carry credentials; use access_key_id/secret_access_key');
  }

  const accessKeyId = str(raw, 'access_key_id');
  const secretAccessKey = str(raw, 'secret_access_key');
  const sessionToken = str(raw, 'session_token');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(
      accessKeyId === undefined
        ? 'storage.s3.secret_access_key is set but storage.s3.access_key_id is not'
        : 'storage.s3.access_key_id is set but storage.s3.secret_access_key is not',
    );
  }

  let prefix = str(raw, 'prefix') ?? '';
  prefix = prefix.replace(/^\/+/, '');
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if (/(^|\/)\.\.?\//.test(prefix) || prefix.includes('//')) throw new ConfigError('storage.s3.prefix must be a plain key prefix like registry/');

  return {
    endpoint,
    bucket,
    // S3-compatible stores ignore the region but SigV4 needs one; us-east-1 is what they all accept.
    region: str(raw, 'region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials:
      accessKeyId !== undefined && secretAccessKey !== undefined
        ? { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
        : null,
    forcePathStyle: bool(raw, 'force_path_style', false),
    redirect: bool(raw, 'redirect', false),
    redirectExpirySeconds: int(raw, 'redirect_expiry_seconds', 300, 10, 7 * 24 * 3600),
    prefix,
    partSize: int(raw, 'part_size', 8 * MiB, MIN_PART_SIZE, MAX_PART_SIZE),
  };
}

export function makeS3Client(s: S3Settings): S3Client {
  const agentOpts = { keepAlive: true, maxSockets: 256 };
  const cfg: S3ClientConfig = {
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    // The SDK's default (since 3.729) sends streamed bodies aws-chunked with CRC32 trailers, which Ceph
    // RGW 16 and other S3-compatible stores reject (411 MissingContentLength). Integrity is ours anyway:
    // every blob is verified against its digest before it is published.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The handler's options (the SDK builds its NodeHttpHandler from them): keep-alive, and more sockets
    // than the default 50, since every concurrent pull and part upload holds one.
    requestHandler: {
      httpAgent: new HttpAgent(agentOpts),
      httpsAgent: new HttpsAgent(agentOpts),
      connectionTimeout: 10_000,
    },
    // Retries are safe: every write is idempotent (parts by number, objects by key).
    maxAttempts: 4,
  };
  if (s.endpoint !== null) cfg.endpoint = s.endpoint;
  if (s.credentials !== null) cfg.credentials = s.credentials;
  // The SDK warns on every start that releases after January 2027 need Node 22. The lockfile pins a
  // release that supports Node 20 (our engines range), so the warning says nothing an operator can act
  // on; an operator who sets the variable either way keeps their choice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client(cfg);
}
