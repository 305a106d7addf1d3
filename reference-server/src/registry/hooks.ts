/**
 * Policy hooks the core calls at the points where push rules and content trust apply. The core knows
 * nothing about projects, tokens or signatures; the auth module implements these. Every hook may throw a
 * RegistryError (DENIED...) which is returned to the client as is.
 */
import type { Principal } from './access.js';
import { MUTABLE, type WriteRules } from './immutability.js';

export interface RegistryHooks {
  /**
   * Before a manifest PUT (by tag(s) or digest) is committed. Returns the repository's write rules, which
   * the metadata store applies inside the transaction that stores the manifest.
   */
  beforeManifestPut(a: { name: string; tags: readonly string[]; digest: string; principal: Principal }): Promise<WriteRules>;
  /** Before a tag, manifest or blob DELETE (`tag` set when deleting by tag); the rules go to the store. */
  beforeDelete(a: { name: string; tag: string | null; digest: string | null; principal: Principal }): Promise<WriteRules>;
  /** Before a blob upload starts or a mount happens (push of a blob). */
  beforeBlobPush(a: { name: string; principal: Principal }): Promise<void>;
  /** Before a manifest is served (GET/HEAD by tag or digest): content trust. */
  beforeManifestServe(a: { name: string; digest: string; mediaType: string; principal: Principal }): Promise<void>;
}

export const permissiveHooks: RegistryHooks = {
  async beforeManifestPut() {
    return MUTABLE;
  },
  async beforeDelete() {
    return MUTABLE;
  },
  async beforeBlobPush() {},
  async beforeManifestServe() {},
};
