/**
 * The `auth:` section of the config file, validated here (the core passes it through raw).
 *
 *   auth:
 *     enabled: true                      # false: anonymous read/write (the server skips this module)
 *     external_url: https://registry.example.com   # realm of the 401 challenge; else taken from Host
 *     trust_forwarded_headers: false     # the peer is a proxy: honour its X-Forwarded-* (one hop)
 *     trust_proxy: [10.0.0.0/8]          # or: honour X-Forwarded-* only from these proxy addresses/CIDRs
 *     service: nitro-repo                # token audience; the `service` clients send
 *     issuer: nitro-registry
 *     token_ttl_seconds: 300
 *     refresh_token_ttl_seconds: 2592000
 *     leeway_seconds: 10
 *     signing_key: /path/key.pem         # EC P-256 or RSA PEM; else generated in <data>/auth/
 *     admin_password: ...                # bootstrap admin (or NITRO_REGISTRY_ADMIN_PASSWORD); else generated
 *     login_rate_limit: { max_failures: 10, user_max_failures: 50, window_seconds: 900 }
 *     oidc: [...]                        # trusted OIDC issuers for keyless CI (oidc/config.ts)
 */
import { parseOidcConfig, type OidcIssuerConfig } from './oidc/config.js';
import { isAddressOrCidr } from './proxy.js';

export interface AuthConfig {
  readonly enabled: boolean;
  readonly externalUrl: string | null;
  readonly trustForwardedHeaders: boolean;
  /** Addresses and CIDRs of trusted reverse proxies (auth.trust_proxy); empty: none. */
  readonly trustProxy: readonly string[];
  readonly service: string;
  readonly issuer: string;
  readonly tokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly leewaySeconds: number;
  readonly signingKeyFile: string | null;
  readonly adminPassword: string | null;
  readonly loginRateLimit: { readonly maxFailures: number; readonly userMaxFailures: number; readonly windowSeconds: number };
  readonly oidc: readonly OidcIssuerConfig[];
}

export class AuthConfigError extends Error {
  override name = 'AuthConfigError';
  /** bin/nitro-registry.js exits with it (setup-error.ts EXIT.usage). */
  readonly exitCode = 2;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KEYS = [
  'enabled',
  'external_url',
  'trust_forwarded_headers',
  'trust_proxy',
  'service',
  'issuer',
  'token_ttl_seconds',
  'refresh_token_ttl_seconds',
  'leeway_seconds',
  'signing_key',
  'admin_password',
  'login_rate_limit',
  'oidc',
];

function int(v: unknown, key: string, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new AuthConfigError(`auth.${key} must be an integer from ${min} to ${max}`);
  return n;
}

function bool(v: unknown, key: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new AuthConfigError(`auth.${key} must be true or false`);
}

function str(v: unknown, key: string): string {
  if (typeof v !== 'string' || v === '') throw new AuthConfigError(`auth.${key} must be a non-empty string`);
  return v;
}

/** auth.trust_proxy: a list (or comma-separated string) of IP addresses and CIDRs. */
function parseTrustProxy(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const items = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter((x) => x !== '') : v;
  if (!Array.isArray(items)) throw new AuthConfigError('auth.trust_proxy must be a list of IP addresses or CIDRs');
  return items.map((x) => {
    if (typeof x !== 'string' || !isAddressOrCidr(x)) throw new AuthConfigError(`auth.trust_proxy: ${JSON.stringify(x)} is not an IP address or CIDR`);
    return x;
  });
}

export function parseAuthConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): AuthConfig {
  const r = raw === undefined || raw === null ? {} : raw;
  if (!isObj(r)) throw new AuthConfigError('auth must be a mapping');
  for (const k of Object.keys(r)) if (!KEYS.includes(k)) throw new AuthConfigError(`auth.${k}: unknown setting (known: ${KEYS.join(', ')})`);

  let externalUrl: string | null = null;
  if (r.external_url !== undefined && r.external_url !== null) {
    const s = str(r.external_url, 'external_url');
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new AuthConfigError('auth.external_url must be an absolute http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AuthConfigError('auth.external_url must be an http(s) URL');
    externalUrl = s.replace(/\/+$/, '');
  }
  const rl = r.login_rate_limit === undefined ? {} : r.login_rate_limit;
  if (!isObj(rl)) throw new AuthConfigError('auth.login_rate_limit must be a mapping');
  const service = r.service === undefined ? 'nitro-repo' : str(r.service, 'service');
  if (/["\\]/.test(service)) throw new AuthConfigError('auth.service may not contain quotes or backslashes');
  const fromFile = r.admin_password !== undefined && r.admin_password !== null;
  const adminPassword = fromFile ? str(r.admin_password, 'admin_password') : env.NITRO_REGISTRY_ADMIN_PASSWORD || null;
  // Checked here, before anything is opened, with the account rule's bounds (auth/accounts.ts).
  if (adminPassword !== null && (adminPassword.length < 8 || adminPassword.length > 1024)) {
    throw new AuthConfigError(`${fromFile ? 'auth.admin_password' : 'NITRO_REGISTRY_ADMIN_PASSWORD'} must be 8 to 1024 characters (it has ${adminPassword.length})`);
  }

  const trustProxy = parseTrustProxy(r.trust_proxy);
  const maxFailures = rl.max_failures === undefined ? 10 : int(rl.max_failures, 'login_rate_limit.max_failures', 1, 1_000_000);
  for (const k of Object.keys(rl)) {
    if (!['max_failures', 'user_max_failures', 'window_seconds'].includes(k)) throw new AuthConfigError(`auth.login_rate_limit.${k}: unknown setting`);
  }

  return {
    enabled: r.enabled === undefined ? true : bool(r.enabled, 'enabled'),
    externalUrl,
    trustForwardedHeaders: r.trust_forwarded_headers === undefined ? false : bool(r.trust_forwarded_headers, 'trust_forwarded_headers'),
    trustProxy,
    service,
    issuer: r.issuer === undefined ? 'nitro-registry' : str(r.issuer, 'issuer'),
    tokenTtlSeconds: r.token_ttl_seconds === undefined ? 300 : int(r.token_ttl_seconds, 'token_ttl_seconds', 30, 86_400),
    refreshTokenTtlSeconds:
      r.refresh_token_ttl_seconds === undefined ? 30 * 86_400 : int(r.refresh_token_ttl_seconds, 'refresh_token_ttl_seconds', 60, 365 * 86_400),
    leewaySeconds: r.leeway_seconds === undefined ? 10 : int(r.leeway_seconds, 'leeway_seconds', 0, 300),
    signingKeyFile: r.signing_key === undefined || r.signing_key === null ? null : str(r.signing_key, 'signing_key'),
    adminPassword,
    loginRateLimit: {
      maxFailures,
      userMaxFailures:
        rl.user_max_failures === undefined ? maxFailures * 5 : int(rl.user_max_failures, 'login_rate_limit.user_max_failures', 1, 1_000_000),
      windowSeconds: rl.window_seconds === undefined ? 900 : int(rl.window_seconds, 'login_rate_limit.window_seconds', 1, 86_400),
    },
    oidc: parseOidcConfig(r.oidc),
  };
}
