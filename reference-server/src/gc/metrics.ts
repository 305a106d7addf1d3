/** Prometheus metrics of GC runs, registered into the server's prom-client Registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createGcMetrics(register: Registry) {
  const registers = [register];
  return {
    runs: new Counter({
      name: 'nitro_registry_gc_runs_total',
      help: 'Garbage collection runs by repository scope, dry run and result',
      labelNames: ['repository', 'dry_run', 'result'] as const,
      registers,
    }),
    deleted: new Counter({
      name: 'nitro_registry_gc_deleted_total',
      help: 'Items deleted by garbage collection (manifest, link, blob, orphan_file, upload)',
      labelNames: ['kind'] as const,
      registers,
    }),
    bytesFreed: new Counter({ name: 'nitro_registry_gc_bytes_freed_total', help: 'Blob bytes freed by garbage collection', registers }),
    duration: new Histogram({
      name: 'nitro_registry_gc_duration_seconds',
      help: 'Duration of garbage collection runs',
      buckets: [0.01, 0.1, 0.5, 2, 10, 60, 300, 1800],
      registers,
    }),
    lastRun: new Gauge({
      name: 'nitro_registry_gc_last_run_timestamp_seconds',
      help: 'When the last non-dry garbage collection run finished',
      registers,
    }),
  };
}

export type GcMetrics = ReturnType<typeof createGcMetrics>;
