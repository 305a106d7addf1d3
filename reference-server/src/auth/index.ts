/**
 * Composition of the auth module, called once by server.ts:
 *
 *   const auth = await createAuth({ db, metadata, config: raw.auth, repositories: raw.repositories, dataDir, log, readSmallBlob });
 *   → { authorizer, hooks, routes, repositories, accounts, startupMessages, enabled }
 *
 * With `auth.enabled: false` the authorizer allows everything (like registry:2 without auth) but the
 * repositories, their push rules (tag immutability, content trust) and the management API still work.
 * Routes must be placed BEFORE the v2 name patterns (the /v2/token alias would otherwise be parsed as
 * an image name).
 */
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { MetadataStore } from '../metadata/store.js';
import type { RegistryHooks } from '../registry/hooks.js';
import type { Route } from '../http/route.js';
import { allowAllAuthorizer, type Authorizer } from './types.js';
import { parseAuthConfig, type AuthConfig } from './config.js';
import { Accounts } from './accounts.js';
import { openRepositories, type NitroRepositories } from '../repositories/store.js';
import { loadSigningKey } from './keys.js';
import { LoginRateLimiter } from './rate-limit.js';
import { createAudit } from './audit.js';
import { Authenticator } from './authenticate.js';
import { Policy } from './policy.js';
import { createTokenAuthorizer } from './authorizer.js';
import { tokenRoutes } from './token-routes.js';
import { adminRoutes } from './admin-routes.js';
import { ContentTrust, type ReadSmallBlob } from './content-trust.js';
import { createPushRuleHooks } from './push-rules.js';
import type { TokenSettings } from './tokens.js';

export interface CreateAuthOptions {
  readonly db: Database.Database;
  readonly metadata: MetadataStore;
  /** The raw `auth:` section (validated here). */
  readonly config: unknown;
  /** The raw `repositories:` section (validated here). */
  readonly repositories: unknown;
  readonly dataDir: string;
  readonly log: Logger;
  /** Reads a small blob fully (content trust reads cosign payloads, ≤ 64 KiB). */
  readonly readSmallBlob?: ReadSmallBlob;
  /** Environment for NITRO_REGISTRY_ADMIN_PASSWORD (tests pass their own). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface Auth {
  readonly enabled: boolean;
  readonly config: AuthConfig;
  readonly authorizer: Authorizer;
  readonly hooks: RegistryHooks;
  readonly routes: Route[];
  readonly repositories: NitroRepositories;
  readonly accounts: Accounts;
  readonly startupMessages: string[];
}

export const BOOTSTRAP_ADMIN = 'admin';

export async function createAuth(o: CreateAuthOptions): Promise<Auth> {
  const config = parseAuthConfig(o.config, o.env ?? process.env);
  const accounts = new Accounts(o.db);
  const repositories = openRepositories(o.db, o.repositories);
  const audit = createAudit(o.log);
  const startupMessages: string[] = [];

  // Bootstrap: an `admin` account exists from the first start on.
  if (accounts.listUsers().length === 0) {
    const generated = config.adminPassword === null;
    const password = config.adminPassword ?? randomBytes(18).toString('base64url');
    await accounts.createUser(BOOTSTRAP_ADMIN, password, true);
    startupMessages.push(
      generated
        ? `created administrator "${BOOTSTRAP_ADMIN}" with generated password ${password} (shown once; change it with \`nitro-registry user passwd admin\`)`
        : `created administrator "${BOOTSTRAP_ADMIN}" with the configured password`,
    );
  }

  const contentTrust = new ContentTrust(o.metadata, o.readSmallBlob, () => repositories.version);
  const hooks = createPushRuleHooks({ repositories, contentTrust, audit });
  const admin = adminRoutes({ accounts, repositories, audit, imageNames: () => o.metadata.listRepositories({}) });

  if (!config.enabled) {
    return { enabled: false, config, authorizer: allowAllAuthorizer, hooks, routes: admin, repositories, accounts, startupMessages };
  }

  const { key, generated } = await loadSigningKey({ dataDir: o.dataDir, keyFile: config.signingKeyFile ?? undefined });
  if (generated) startupMessages.push(`generated token signing key (kid ${key.kid}) in ${o.dataDir}/auth/`);
  const tokenSettings: TokenSettings = {
    issuer: config.issuer,
    service: config.service,
    ttlSeconds: config.tokenTtlSeconds,
    leewaySeconds: config.leewaySeconds,
  };
  const limiter = new LoginRateLimiter(config.loginRateLimit.maxFailures, config.loginRateLimit.windowSeconds * 1000);
  const authenticator = new Authenticator({ accounts, limiter, key, tokenSettings, audit });
  const policy = new Policy(accounts, repositories);
  const authorizer = createTokenAuthorizer({ config, authenticator, policy, repositories, audit });
  const routes = [...tokenRoutes({ config, accounts, authenticator, policy, key, tokenSettings, audit }), ...admin];
  return { enabled: true, config, authorizer, hooks, routes, repositories, accounts, startupMessages };
}

export type { NitroRepositories, NitroRepository } from '../repositories/store.js';
