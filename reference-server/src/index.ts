/** Programmatic API of the reference server: `import { startRegistry } from 'nitro-registry'`. */
export { createRegistry, startRegistry, type Registry, type RunningRegistry, type RegistryOptions } from './server.js';
export { loadConfig, configFrom, type Config } from './config.js';
export { RegistryError, ERROR_CODES, type ErrorCode } from './oci/errors.js';
export type { BlobStore } from './storage/blob-store.js';
export type { MetadataStore } from './metadata/store.js';
