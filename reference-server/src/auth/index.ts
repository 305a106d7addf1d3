/**
 * Composition of the auth module, called once by server.ts:
 *
 *   const auth = await createAuth({ backend, metadata, config: raw.auth, repositories: raw.repositories, dataDir, log, readSmallBlob });
 *   → { authorizer, hooks, routes, repositories, accounts, keys, startupMessages, enabled, close }
 *
 * With `auth.enabled: false` the authorizer allows everything (like registry:2 without auth) but the
 * repositories, their push rules (tag immutability, content trust) and the management API still work.
 * Routes must be placed BEFORE the v2 name patterns (the /v2/token alias would otherwise be parsed as
 * an image name).
 */
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { MetadataStore } from '../metadata/store.js';
import type { MetadataBackend } from '../metadata/backend.js';
import type { RegistryHooks } from '../registry/hooks.js';
import type { Route } from '../http/route.js';
import { allowAllAuthorizer, type Authorizer } from '../registry/access.js';
import { parseAuthConfig, type AuthConfig } from './config.js';
import { Accounts } from './accounts.js';
import { DEFAULT_REPOSITORY_NAME, openRepositories, type NitroRepositories } from '../repositories/store.js';
import { describeRules } from '../repositories/config.js';
import { KeyRing } from './keys.js';
import { LoginRateLimiter } from './rate-limit.js';
import { createAudit } from './audit.js';
import { Authenticator } from './authenticate.js';
import { Policy } from './policy.js';
import { createTokenAuthorizer } from './authorizer.js';
import { tokenRoutes } from './token-routes.js';
import { adminRoutes } from './admin-routes.js';
import { ContentTrust, type ReadSmallBlob } from './content-trust.js';
import { createPushRuleHooks } from './push-rules.js';
import { purgeImageNames } from '../repositories/purge.js';
import type { TokenSettings } from './tokens.js';
import { OidcVerifier } from './oidc/verifier.js';
import { OidcExchange } from './oidc/exchange.js';

export interface CreateAuthOptions {
  readonly backend: Pick<MetadataBackend, 'accounts' | 'repositories' | 'keys' | 'throttle' | 'gc' | 'kind'>;
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
  /** Token signing keys (null with auth disabled). */
  readonly keys: KeyRing | null;
  readonly startupMessages: string[];
  close(): void;
}

export const BOOTSTRAP_ADMIN = 'admin';

export async function createAuth(o: CreateAuthOptions): Promise<Auth> {
  const config = parseAuthConfig(o.config, o.env ?? process.env);
  const accounts = new Accounts(o.backend.accounts);
  // Replicas share the database: pick up repository changes made elsewhere within a second.
  const repositories = await openRepositories(o.backend.repositories, o.repositories, { refreshMs: o.backend.kind === 'postgres' ? 1000 : 0 });
  const audit = createAudit(o.log);
  const startupMessages: string[] = [];

  // Bootstrap: an `admin` account exists from the first start on (several replicas starting at once: one wins).
  if ((await accounts.listUsers()).length === 0) {
    const generated = config.adminPassword === null;
    const password = config.adminPassword ?? randomBytes(18).toString('base64url');
    try {
      await accounts.createUser(BOOTSTRAP_ADMIN, password, true);
      startupMessages.push(
        generated
          ? `created administrator "${BOOTSTRAP_ADMIN}" with generated password ${password} (shown once; change it with \`nitro-registry user passwd admin\`)`
          : `created administrator "${BOOTSTRAP_ADMIN}" with the configured password`,
      );
    } catch (e) {
      if ((e as { kind?: string }).kind !== 'conflict') throw e;
    }
  }

  // The default repository's rules differ from the quick reference's all-false defaults: say so.
  const builtin = repositories.get(DEFAULT_REPOSITORY_NAME);
  if (builtin) {
    startupMessages.push(
      `repository "default" (images no other repository owns, ${builtin.visibility}): ${describeRules(repositories.rules(builtin))}; ` +
        'other repositories default every push rule to false',
    );
  }

  const contentTrust = new ContentTrust(o.metadata, o.readSmallBlob, () => repositories.version);
  const hooks = createPushRuleHooks({ repositories, contentTrust, audit });
  const admin = adminRoutes({
    accounts,
    repositories,
    audit,
    imageNames: () => o.metadata.listRepositories({}),
    purge: (names) => purgeImageNames(o.metadata, o.backend.gc, names),
  });
  const close = (keys: KeyRing | null) => () => {
    repositories.close();
    keys?.close();
  };

  if (!config.enabled) {
    return {
      enabled: false,
      config,
      authorizer: allowAllAuthorizer,
      hooks,
      routes: admin,
      repositories,
      accounts,
      keys: null,
      startupMessages,
      close: close(null),
    };
  }

  const { ring: keys, generated } = await KeyRing.open({ store: o.backend.keys, keyFile: config.signingKeyFile, dataDir: o.dataDir });
  if (generated) startupMessages.push(`generated token signing key (kid ${keys.signingKey().kid}), kept in the ${o.backend.kind} database`);
  const tokenSettings: TokenSettings = {
    issuer: config.issuer,
    service: config.service,
    ttlSeconds: config.tokenTtlSeconds,
    leewaySeconds: config.leewaySeconds,
  };
  const limiter = new LoginRateLimiter(o.backend.throttle, {
    maxFailures: config.loginRateLimit.maxFailures,
    userMaxFailures: config.loginRateLimit.userMaxFailures,
    windowMs: config.loginRateLimit.windowSeconds * 1000,
  });
  const verifier = new OidcVerifier(config.oidc);
  const oidc = new OidcExchange(verifier);
  if (oidc.enabled) startupMessages.push(`trusting OIDC tokens of ${config.oidc.map((i) => i.issuer).join(', ')} (log in as "oidc" with the token as password)`);
  const authenticator = new Authenticator({ accounts, limiter, keys, tokenSettings, audit, oidc });
  const policy = new Policy(repositories);
  const authorizer = createTokenAuthorizer({ config, authenticator, policy, repositories, audit });
  const routes = [...tokenRoutes({ config, accounts, authenticator, policy, keys, tokenSettings, audit }), ...admin];
  const closeBase = close(keys);
  const closeAll = () => {
    closeBase();
    void verifier.close();
  };
  return { enabled: true, config, authorizer, hooks, routes, repositories, accounts, keys, startupMessages, close: closeAll };
}

export type { NitroRepositories, NitroRepository } from '../repositories/store.js';
