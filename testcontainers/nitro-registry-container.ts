// nitro-registry's reference server in a container, for integration tests of code that
// talks to a registry (push, pull, auth, push rules).
//
// Settings go the way the server reads them:
//   - environment: NITRO_REGISTRY_ADMIN_PASSWORD, NITRO_REGISTRY_AUTH, NITRO_REGISTRY_TLS_*
//     (listen address 0.0.0.0:5000 and data dir /data are the image's defaults);
//   - the config file (`withConfig()`, `withRepositories()`): written as JSON (valid YAML)
//     to CONFIG_PATH in the container and named by NITRO_REGISTRY_CONFIG;
//   - accounts (`withUsers()`, `withTokens()`): the server keeps them in its database, so
//     start() creates them through the management API (/api/users...) as `admin` once the
//     server answers. Token secrets are shown once by the server; getToken() returns them.
//
// The image (default $NITRO_REGISTRY_IMAGE, else `nitro-registry:local`) is built from this
// repository's Dockerfile; see docs/containers.md.
import { randomBytes } from "node:crypto";
import { AbstractStartedContainer, GenericContainer, Wait } from "testcontainers";
import type { StartedTestContainer } from "testcontainers";
import { apiRequest, type ApiTarget } from "./management-api.js";

export const NITRO_REGISTRY_PORT = 5000;
export const CONFIG_PATH = "/etc/nitro-registry/config.json";
export const TLS_CERT_PATH = "/etc/nitro-registry/tls/cert.pem";
export const TLS_KEY_PATH = "/etc/nitro-registry/tls/key.pem";
/** The bootstrap administrator NITRO_REGISTRY_ADMIN_PASSWORD belongs to. */
export const ADMIN_USERNAME = "admin";

export type ProjectRole = "read" | "write" | "admin";

export interface UserSpec {
  username: string;
  /** Omit for a robot account (access tokens only). */
  password?: string;
  admin?: boolean;
  /** Project memberships, e.g. { team: "write" }. */
  projects?: Record<string, ProjectRole>;
}

export interface TokenSpec {
  username: string;
  name: string;
  /** Scope strings like "repository:team/app:pull,push"; omit for an unscoped token. */
  scopes?: string[];
  expiresInSeconds?: number;
}

/** One entry of the config file's `repositories:` list (a Nitro repository and its push rules). */
export interface RepositorySpec {
  name: string;
  id?: string;
  visibility?: "public" | "private";
  /** e.g. { type: "Hosted", push_rules: { allow_tag_overwrite: false } } */
  config?: Record<string, unknown>;
}

export interface TlsMaterial {
  /** PEM certificate (chain) the server presents. */
  cert: string | Buffer;
  /** PEM private key of that certificate. */
  key: string | Buffer;
}

export type NitroRegistryConfig = Record<string, unknown>;

export interface Credentials {
  username: string;
  password: string;
}

export class NitroRegistryContainer extends GenericContainer {
  private config: NitroRegistryConfig | undefined;
  private adminPassword: string | undefined;
  private tls: TlsMaterial | undefined;
  private authEnabled = true;
  private users: UserSpec[] = [];
  private tokens: TokenSpec[] = [];

  constructor(image: string = process.env.NITRO_REGISTRY_IMAGE ?? "nitro-registry:local") {
    super(image);
    this.withExposedPorts(NITRO_REGISTRY_PORT).withStartupTimeout(60_000);
  }

  /** Password of the bootstrap `admin` account (NITRO_REGISTRY_ADMIN_PASSWORD). Without it a
   *  random one is used. Like any container env var it is visible to `docker inspect`. */
  withAdminPassword(password: string): this {
    this.adminPassword = password;
    return this;
  }

  /** The whole config file (see `nitro-registry serve --help`); later withRepositories() edits it. */
  withConfig(config: NitroRegistryConfig): this {
    this.config = { ...config };
    return this;
  }

  /** The config file's `repositories:` list: Nitro repositories with their push rules. */
  withRepositories(repositories: RepositorySpec[]): this {
    this.config = { ...(this.config ?? {}), repositories };
    return this;
  }

  /** Accounts created through the management API after start. */
  withUsers(users: UserSpec[]): this {
    this.users = [...this.users, ...users];
    return this;
  }

  /** Access tokens created through the management API after start (users first). */
  withTokens(tokens: TokenSpec[]): this {
    this.tokens = [...this.tokens, ...tokens];
    return this;
  }

  /** Anonymous read/write like registry:2 (NITRO_REGISTRY_AUTH=false). */
  withoutAuth(): this {
    this.authEnabled = false;
    return this;
  }

  /** Serve HTTPS with this certificate (NITRO_REGISTRY_TLS_CERT / NITRO_REGISTRY_TLS_KEY). */
  withTls(tls: TlsMaterial): this {
    this.tls = tls;
    return this;
  }

  override async start(): Promise<StartedNitroRegistryContainer> {
    if (!this.authEnabled && (this.users.length > 0 || this.tokens.length > 0)) {
      throw new Error("withUsers()/withTokens() need auth; drop withoutAuth()");
    }
    const adminPassword = this.adminPassword ?? randomBytes(18).toString("base64url");
    const env: Record<string, string> = { NITRO_REGISTRY_ADMIN_PASSWORD: adminPassword };
    if (this.config !== undefined) {
      env.NITRO_REGISTRY_CONFIG = CONFIG_PATH;
      this.withCopyContentToContainer([{ content: JSON.stringify(this.config, null, 2), target: CONFIG_PATH, mode: 0o644 }]);
    }
    if (!this.authEnabled) env.NITRO_REGISTRY_AUTH = "false";
    if (this.tls !== undefined) {
      // Through the environment rather than --tls-cert/--tls-key, so that the image's
      // HEALTHCHECK (which reads NITRO_REGISTRY_TLS_CERT) probes with HTTPS too.
      // mode 0644: files copied in belong to root while the server runs as uid 1000;
      // this is a throw-away test key.
      this.withCopyContentToContainer([
        { content: this.tls.cert, target: TLS_CERT_PATH, mode: 0o644 },
        { content: this.tls.key, target: TLS_KEY_PATH, mode: 0o644 },
      ]);
      env.NITRO_REGISTRY_TLS_CERT = TLS_CERT_PATH;
      env.NITRO_REGISTRY_TLS_KEY = TLS_KEY_PATH;
    }
    this.withEnvironment(env);
    // The image has no shell, so testcontainers' default wait strategy (which execs one)
    // cannot work. /v2/ answers 200 (anonymous access) or 401 (auth required) once ready.
    let wait = Wait.forHttp("/v2/", NITRO_REGISTRY_PORT).forStatusCodeMatching((s) => s === 200 || s === 401);
    if (this.tls !== undefined) wait = wait.usingTls().allowInsecure();
    this.withWaitStrategy(wait);

    const started = new StartedNitroRegistryContainer(await super.start(), {
      tls: this.tls,
      admin: { username: ADMIN_USERNAME, password: adminPassword },
      users: this.users,
    });
    try {
      await started.provision(this.users, this.tokens);
    } catch (e) {
      await started.stop();
      throw e;
    }
    return started;
  }
}

export class StartedNitroRegistryContainer extends AbstractStartedContainer {
  private readonly tokenSecrets = new Map<string, string>();

  constructor(
    started: StartedTestContainer,
    private readonly options: { tls: TlsMaterial | undefined; admin: Credentials; users: UserSpec[] },
  ) {
    super(started);
  }

  /** host:port as used in image references, e.g. `${getRegistryHost()}/team/app:1`. */
  getRegistryHost(): string {
    return `${this.getHost()}:${this.getMappedPort(NITRO_REGISTRY_PORT)}`;
  }

  /** Base URL, e.g. http://127.0.0.1:32768 (https:// with withTls()). */
  getRegistryUrl(): string {
    return `${this.options.tls ? "https" : "http"}://${this.getRegistryHost()}`;
  }

  /** The bootstrap administrator (the given or the generated password). */
  getAdminCredentials(): Credentials {
    return { ...this.options.admin };
  }

  /** Username and password of a user from withUsers(). */
  getUserCredentials(username: string): Credentials {
    const user = this.options.users.find((u) => u.username === username);
    if (user?.password === undefined) throw new Error(`no user ${username} with a password was configured`);
    return { username, password: user.password };
  }

  /** The secret of a token from withTokens() (usable as a password for docker login). */
  getToken(username: string, name: string): string {
    const secret = this.tokenSecrets.get(`${username}\u0000${name}`);
    if (secret === undefined) throw new Error(`no token ${name} for ${username} was configured`);
    return secret;
  }

  /** Calls the management API as admin, e.g. apiAsAdmin("POST", "/api/users", {...}). */
  async apiAsAdmin(method: string, path: string, body?: unknown): Promise<unknown> {
    const target: ApiTarget = { baseUrl: this.getRegistryUrl(), ...this.options.admin, ca: this.options.tls?.cert };
    return await apiRequest(target, method, path, body);
  }

  /** @internal Creates users, memberships and tokens; called by NitroRegistryContainer.start(). */
  async provision(users: UserSpec[], tokens: TokenSpec[]): Promise<void> {
    for (const u of users) {
      await this.apiAsAdmin("POST", "/api/users", { username: u.username, password: u.password ?? null, admin: u.admin ?? false });
      for (const [project, role] of Object.entries(u.projects ?? {})) {
        await this.apiAsAdmin("PUT", `/api/projects/${encodeURIComponent(project)}/members/${encodeURIComponent(u.username)}`, { role });
      }
    }
    for (const t of tokens) {
      const created = (await this.apiAsAdmin("POST", `/api/users/${encodeURIComponent(t.username)}/tokens`, {
        name: t.name,
        ...(t.scopes ? { scopes: t.scopes } : {}),
        ...(t.expiresInSeconds !== undefined ? { expires_in: t.expiresInSeconds } : {}),
      })) as { token?: unknown };
      if (typeof created?.token !== "string") throw new Error(`the server returned no secret for token ${t.name}`);
      this.tokenSecrets.set(`${t.username}\u0000${t.name}`, created.token);
    }
  }
}
