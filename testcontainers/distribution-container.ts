// CNCF Distribution (the reference "registry:2") in a container, as a peer to compare
// nitro-registry against. Nothing can be pulled in our CI, so the default image is
// local/distribution:2.8, built from the Debian package by scripts/ci/build-base-images.sh;
// elsewhere pass "registry:2.8" (or set DISTRIBUTION_IMAGE).
import { AbstractStartedContainer, GenericContainer, Wait } from "testcontainers";
import type { StartedTestContainer } from "testcontainers";
import { htpasswdLine } from "./htpasswd.js";

export const DISTRIBUTION_PORT = 5000;
const HTPASSWD_PATH = "/etc/docker/registry/htpasswd";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export class DistributionContainer extends GenericContainer {
  private credentials: RegistryCredentials | undefined;

  constructor(image: string = process.env.DISTRIBUTION_IMAGE ?? "local/distribution:2.8") {
    super(image);
    this.withExposedPorts(DISTRIBUTION_PORT)
      // The image has no shell, and testcontainers' default wait strategy execs one.
      // 401 counts as ready: that is what /v2/ answers when auth is on.
      .withWaitStrategy(Wait.forHttp("/v2/", DISTRIBUTION_PORT).forStatusCodeMatching((s) => s === 200 || s === 401))
      .withStartupTimeout(30_000);
  }

  /** Turn on htpasswd (basic) auth with one user. */
  withHtpasswdUser(username: string, password: string): this {
    this.credentials = { username, password };
    return this;
  }

  override async start(): Promise<StartedDistributionContainer> {
    if (this.credentials) {
      const line = await htpasswdLine(this.credentials.username, this.credentials.password);
      this.withCopyContentToContainer([{ content: `${line}\n`, target: HTPASSWD_PATH, mode: 0o644 }]).withEnvironment({
        REGISTRY_AUTH: "htpasswd",
        REGISTRY_AUTH_HTPASSWD_REALM: "distribution",
        REGISTRY_AUTH_HTPASSWD_PATH: HTPASSWD_PATH,
      });
    }
    return new StartedDistributionContainer(await super.start(), this.credentials);
  }
}

export class StartedDistributionContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    private readonly credentials: RegistryCredentials | undefined,
  ) {
    super(started);
  }

  /** host:port as used in image references, e.g. `${getRegistryHost()}/library/app:1`. */
  getRegistryHost(): string {
    return `${this.getHost()}:${this.getMappedPort(DISTRIBUTION_PORT)}`;
  }

  getRegistryUrl(): string {
    return `http://${this.getRegistryHost()}`;
  }

  /** The htpasswd user, or undefined when the registry is open. */
  getCredentials(): RegistryCredentials | undefined {
    return this.credentials;
  }
}
