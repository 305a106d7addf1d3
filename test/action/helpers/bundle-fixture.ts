// Shared by the bundle tests (action-bundle, action-subactions): where the action.yml files are, and a
// per-test environment with a fake `docker` on PATH whose "build" pushes a real OCI layout with skopeo.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { installFakeDocker } from './fake-docker.js';
import type { buildOciLayout } from './oci-layout.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const ROOT_ACTION = join(root, 'action.yml');
export const VERIFY_ACTION = join(root, 'verify/action.yml');
export const LOGIN_ACTION = join(root, 'login/action.yml');
export const PASSWORD = 's3cr3t-Pa55word';

type Layout = ReturnType<typeof buildOciLayout>;

/** A fake docker + a throw-away DOCKER_CONFIG for one test, removed at its end. Without a layout, "build" pushes nothing (login-only tests). */
export function bundleEnv(t: Test, layout?: Layout) {
  const docker = installFakeDocker();
  const dockerConfig = mkdtempSync(join(tmpdir(), 'nitro-docker-config-'));
  t.teardown(() => {
    rmSync(docker.bin, { recursive: true, force: true });
    rmSync(dockerConfig, { recursive: true, force: true });
  });
  const env = {
    PATH: `${docker.bin}:${process.env.PATH}`,
    FAKE_DOCKER_LOG: docker.log,
    ...(layout ? { FAKE_DOCKER_LAYOUT: layout.dir, FAKE_DOCKER_DIGEST: layout.indexDigest } : {}),
    DOCKER_CONFIG: dockerConfig,
    GITHUB_REPOSITORY: 'octo/app',
    GITHUB_SHA: 'abc123',
    GITHUB_SERVER_URL: 'https://github.example',
  };
  return { docker, env, dockerConfig };
}

/** The root action's inputs for a two-tag, two-platform push of `repo` to `registryHost`. */
export const pushInputs = (registryHost: string, repo: string) => ({
  registry: registryHost,
  username: 'ci-user',
  password: PASSWORD,
  insecure: 'true',
  context: '.',
  tags: `${registryHost}/${repo}:v1\n${registryHost}/${repo}:latest`,
  platforms: 'linux/amd64,linux/arm64',
  labels: 'org.opencontainers.image.title=demo',
});
