/**
 * Policy hooks the core calls at the points where push rules and content trust apply. The core knows
 * nothing about projects, tokens or signatures; the auth module implements these. Every hook may throw a
 * RegistryError (DENIED, TAG_IMMUTABLE...) which is returned to the client as is.
 */
import type { Principal } from '../auth/types.js';

export interface ManifestWriteDecision {
  /**
   * false: an existing tag may not be moved to another digest. Checked inside the same metadata
   * transaction as the tag write, so two concurrent first pushes cannot both win.
   */
  allowTagOverwrite: boolean;
}

export interface RegistryHooks {
  /** Before a manifest PUT (by tag or digest) is committed. */
  beforeManifestPut(a: { name: string; tag: string | null; digest: string; principal: Principal }): Promise<ManifestWriteDecision>;
  /** Before a tag or manifest or blob DELETE; `tag` set when deleting by tag. */
  beforeDelete(a: { name: string; tag: string | null; digest: string | null; principal: Principal }): Promise<ManifestWriteDecision>;
  /** Before a blob upload starts or a mount happens (push of a blob). */
  beforeBlobPush(a: { name: string; principal: Principal }): Promise<void>;
  /** Before a manifest is served (GET/HEAD by tag or digest): content trust. */
  beforeManifestServe(a: { name: string; digest: string; mediaType: string; principal: Principal }): Promise<void>;
}

export const permissiveHooks: RegistryHooks = {
  async beforeManifestPut() {
    return { allowTagOverwrite: true };
  },
  async beforeDelete() {
    return { allowTagOverwrite: true };
  },
  async beforeBlobPush() {},
  async beforeManifestServe() {},
};
