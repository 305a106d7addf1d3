import { spawnSync } from 'node:child_process';

/**
 * Whether a Docker engine with buildx is usable. Tests that need one skip with this reason, unless
 * REQUIRE_DOCKER=1, in which case they fail (CI must not silently skip the end-to-end run).
 */
export function dockerUnavailableReason(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.status !== 0) return `no Docker engine: docker info failed (${(info.stderr || info.error?.message || '').trim().split('\n')[0]})`;
  const buildx = spawnSync('docker', ['buildx', 'version'], { encoding: 'utf8', timeout: 20_000 });
  if (buildx.status !== 0) return 'docker buildx is not installed';
  return undefined;
}

export const REQUIRE_DOCKER = process.env.REQUIRE_DOCKER === '1';
