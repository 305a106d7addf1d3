import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Node 24 — what GitHub runs the bundles on (action.yml `using: node24`) — installed by
 * scripts/ci/install-node24.sh (npm test and .ci/run run it), or named by NITRO_NODE24.
 * REQUIRE_NODE24=1 (CI) makes its absence a failure instead of a fallback to the test's own Node.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const REQUIRE_NODE24 = process.env.REQUIRE_NODE24 === '1';

let cached: { path: string; version: string } | null | undefined;

export function node24(): { path: string; version: string } | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const candidates = [process.env.NITRO_NODE24, join(root, `scripts/ci/node24/node_modules/node-linux-${arch()}/bin/node`)];
  cached = null;
  for (const path of candidates) {
    if (!path || !existsSync(path)) continue;
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    if (version.startsWith('v24.')) cached = { path, version };
    break;
  }
  return cached ?? undefined;
}

export function node24MissingReason(): string | undefined {
  return node24() ? undefined : 'Node 24 is not installed (bash scripts/ci/install-node24.sh, or set NITRO_NODE24)';
}

/** The runtime for bundles: Node 24 when installed, else the Node running the tests. */
export function bundleNode(): string {
  return node24()?.path ?? process.execPath;
}
