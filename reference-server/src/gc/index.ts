/**
 * Garbage collection and repository stats. Wiring for server.ts (one call):
 *
 *   const gcServices = createGcServices({ gcStore, meta, blobs, uploads, config, log, metricsRegistry: metrics.registry });
 *   extraRoutes.push(...gcServices.routes(resolveScope));   // resolveScope: repositories module, id → scope
 *   ... on close: await gcServices.close();
 */
import type { Registry as PromRegistry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { MetadataStore } from '../metadata/store.js';
import type { GcStore } from '../metadata/gc-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { UploadService } from '../registry/uploads.js';
import type { Route } from '../http/route.js';
import { GarbageCollector } from './collector.js';
import { StatsService } from './stats.js';
import { createGcMetrics } from './metrics.js';
import { parseGcConfig } from './policy.js';
import { gcRoutes } from './routes.js';
import { startGcSchedule, type GcSchedule } from './scheduler.js';
import type { ScopeResolver } from './scope.js';

export { GarbageCollector, type GcReport, type RunRequest } from './collector.js';
export { StatsService, type RepositoryStats } from './stats.js';
export { gcRoutes } from './routes.js';
export { startGcSchedule } from './scheduler.js';
export { parseGcConfig, resolvePolicy, type GcConfig, type GcPolicy } from './policy.js';
export { WHOLE_REGISTRY, prefixScope, nameAsIdResolver, type RepositoryScope, type ScopeResolver } from './scope.js';

export interface GcServiceDeps {
  readonly gcStore: GcStore;
  readonly meta: MetadataStore;
  readonly blobs: BlobStore;
  readonly uploads?: UploadService;
  readonly config: Pick<Config, 'gc' | 'uploads'>;
  readonly log?: Logger;
  readonly metricsRegistry?: PromRegistry;
  readonly now?: () => number;
  /** Start the `gc.schedule_seconds` schedule (default true). */
  readonly schedule?: boolean;
}

export interface GcServices {
  readonly gc: GarbageCollector;
  readonly stats: StatsService;
  routes(resolveScope: ScopeResolver): Route[];
  close(): Promise<void>;
}

export function createGcServices(d: GcServiceDeps): GcServices {
  const config = parseGcConfig(d.config.gc);
  const uploads = d.uploads;
  const gc = new GarbageCollector({
    gcStore: d.gcStore,
    meta: d.meta,
    blobs: d.blobs,
    ...(uploads ? { purgeUploads: (cutoff: number) => uploads.purgeStale(cutoff) } : {}),
    uploadTtlSeconds: d.config.uploads.ttlSeconds,
    config,
    ...(d.log ? { log: d.log } : {}),
    ...(d.metricsRegistry ? { metrics: createGcMetrics(d.metricsRegistry) } : {}),
    ...(d.now ? { now: d.now } : {}),
  });
  const stats = new StatsService(d.gcStore);
  const schedule: GcSchedule | null =
    d.schedule !== false && config.scheduleSeconds !== null ? startGcSchedule(gc, config.scheduleSeconds, d.log) : null;
  return {
    gc,
    stats,
    routes: (resolveScope) => gcRoutes({ gc, stats, resolveScope }),
    async close() {
      await schedule?.stop();
      await gc.idle();
    },
  };
}
