/**
 * Removes everything stored under some image names: manifests (with their tags) and blob links. Used when
 * a Nitro repository is force-deleted: its image names would otherwise fall under the next owning
 * repository (usually the public `default`), publishing what was private. The blobs themselves become
 * unreferenced and go with the next GC run (gc/README.md), like after any manifest delete.
 *
 * Deletes use MUTABLE rules on purpose: the repository is going away with its rules (tag immutability
 * protects tags from being moved or deleted by clients, not from the repository's own deletion by an admin).
 */
import type { MetadataStore } from '../metadata/store.js';
import type { GcStore } from '../metadata/gc-store.js';
import { MUTABLE } from '../registry/immutability.js';

export interface PurgeResult {
  readonly manifests: number;
  readonly links: number;
}

/** A push racing the purge can add rows between passes; a few passes catch those, the caller decides after. */
const MAX_PASSES = 5;

export async function purgeImageNames(meta: MetadataStore, gc: Pick<GcStore, 'manifestsOf' | 'linksOf'>, names: readonly string[]): Promise<PurgeResult> {
  let manifests = 0;
  let links = 0;
  for (const name of names) {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const rows = await gc.manifestsOf(name);
      const linked = await gc.linksOf(name);
      if (rows.length === 0 && linked.length === 0) break;
      for (const m of rows) if ((await meta.deleteManifest(name, m.digest, MUTABLE)).ok) manifests++;
      for (const l of linked) if ((await meta.unlinkBlob(name, l.digest, MUTABLE)).ok) links++;
    }
  }
  return { manifests, links };
}
