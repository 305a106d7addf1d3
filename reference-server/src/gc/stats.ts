/** Repository stats from the metadata store alone (a few indexed queries; no disk scan). */
import type { GcStore } from '../metadata/gc-store.js';
import { WHOLE_REGISTRY, type RepositoryScope } from './scope.js';

export interface RepositoryStats {
  repository_id: string;
  name: string;
  /** Image names (e.g. my-project/myapp) holding content in the repository. */
  total_images: number;
  total_tags: number;
  total_manifests: number;
  /** Distinct blobs linked into the repository's images. */
  total_blobs: number;
  /** Bytes of distinct blobs plus distinct manifests: a layer shared by ten images counts once. */
  storage_used: number;
  /** ISO 8601 time of the latest manifest or tag push, or null. */
  last_push: string | null;
  /** ISO 8601 time of the latest (non-dry) GC run covering the repository, or null. */
  last_gc: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class StatsService {
  constructor(private readonly gcMeta: GcStore) {}

  async stats(scope: RepositoryScope): Promise<RepositoryStats> {
    const names = (await this.gcMeta.imageNames()).filter((n) => scope.owns(n));
    const u = await this.gcMeta.usage(names);
    const lastGc = await this.gcMeta.lastGcRun(scope.id === WHOLE_REGISTRY.id ? [scope.id] : [scope.id, WHOLE_REGISTRY.id]);
    return {
      repository_id: scope.id,
      name: scope.name,
      total_images: u.images,
      total_tags: u.tags,
      total_manifests: u.manifests,
      total_blobs: u.blobs,
      storage_used: u.bytes,
      last_push: iso(u.lastPush),
      last_gc: iso(lastGc),
    };
  }
}
