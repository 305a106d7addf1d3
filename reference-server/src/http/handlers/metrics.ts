/** GET /metrics — Prometheus text format. */
import type { Route } from '../route.js';
import type { Metrics } from '../../metrics.js';

export function metricsRoutes(metrics: Metrics): Route[] {
  return [
    {
      method: 'GET',
      name: 'metrics',
      pattern: /^\/metrics$/,
      access: () => ({ kind: 'public' }),
      async handle({ res }) {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
}
