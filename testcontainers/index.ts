// nitro-registry/testcontainers: registries in containers for integration tests.
//
// Built on testcontainers 11, not 12: testcontainers 12 requires Node >= 22.22 and
// nitro-registry supports Node 20 (engines ">=20.10"). testcontainers is a peer
// dependency: install it next to nitro-registry.
//
// Environment the CALLER must set where no container registry is reachable or the
// tests run inside a container (both true in our CI):
//   TESTCONTAINERS_RYUK_DISABLED=true      the ryuk reaper image cannot be pulled;
//                                          stop your containers yourself (after hooks).
//   TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 when /.dockerenv exists testcontainers assumes
//                                          it runs in a container and uses the bridge
//                                          gateway; ports are published on 127.0.0.1.
export {
  NitroRegistryContainer,
  StartedNitroRegistryContainer,
  NITRO_REGISTRY_PORT,
  ADMIN_USERNAME,
  CONFIG_PATH,
  TLS_CERT_PATH,
  TLS_KEY_PATH,
} from "./nitro-registry-container.js";
export type {
  Credentials,
  NitroRegistryConfig,
  ProjectRole,
  RepositorySpec,
  TlsMaterial,
  TokenSpec,
  UserSpec,
} from "./nitro-registry-container.js";
export { apiRequest, ManagementApiError } from "./management-api.js";
export type { ApiTarget } from "./management-api.js";
export { DistributionContainer, StartedDistributionContainer, DISTRIBUTION_PORT } from "./distribution-container.js";
export type { RegistryCredentials } from "./distribution-container.js";
export { htpasswdLine } from "./htpasswd.js";
