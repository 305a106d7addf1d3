/** GET/HEAD /v2/ — API version check. */
import type { Route } from '../route.js';
import { sendJson } from '../respond.js';

export function baseRoutes(): Route[] {
  return (['GET', 'HEAD'] as const).map((method) => ({
    method,
    name: 'base',
    pattern: /^\/v2\/?$/,
    access: () => ({ kind: 'base' }),
    async handle({ res }) {
      sendJson(res, 200, {});
    },
  }));
}
