/** Prometheus metrics served at /metrics. One registry per server instance (tests run several). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { uploadsInFlight: () => number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nitro_registry_' });
  const requests = new Counter({
    name: 'nitro_registry_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'nitro_registry_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
    registers: [registry],
  });
  const bytesIn = new Counter({ name: 'nitro_registry_bytes_received_total', help: 'Blob and manifest bytes received', registers: [registry] });
  const bytesOut = new Counter({ name: 'nitro_registry_bytes_sent_total', help: 'Blob and manifest bytes sent', registers: [registry] });
  new Gauge({
    name: 'nitro_registry_uploads_in_flight',
    help: 'Upload chunks being received right now',
    registers: [registry],
    collect() {
      this.set(opts.uploadsInFlight());
    },
  });
  return { registry, requests, duration, bytesIn, bytesOut };
}

export type Metrics = ReturnType<typeof createMetrics>;
