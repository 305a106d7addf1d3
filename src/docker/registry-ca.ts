import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import * as exec from '@actions/exec';
import { parseImageRef, registryHost } from '../registry/image-ref.js';

/**
 * A private CA for the Docker side of the Action (`docker login`, and the push of the default `docker`
 * buildx driver, both done by the daemon). The daemon trusts every `*.crt` in
 * `/etc/docker/certs.d/<host[:port]>/` without a restart (rootless Docker: `~/.config/docker/certs.d`,
 * set NITRO_DOCKER_CERTS_D). The file gets its own name, so a `ca.crt` already there is left alone, and
 * the post step removes what was added. A `docker-container` builder gets the CA through its buildkitd
 * config instead (buildkitdConfig below).
 */
const CA_FILE_NAME = 'nitro-registry-ca.crt';

export function certsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.NITRO_DOCKER_CERTS_D || '/etc/docker/certs.d';
}

/** What the post step removes: files written, and directories created (removed when left empty). */
export interface InstalledCa {
  files: string[];
  dirs: string[];
}

/**
 * Installs `pem` for each registry host. Writes directly, or with `sudo -n` when the directory is not
 * writable (GitHub's hosted runners: non-root with passwordless sudo). A host it cannot install for
 * is a warning: the daemon may trust the CA already, and if not, `docker login` says so (TLS_ERROR).
 */
export async function installDaemonCa(hosts: string[], pem: string): Promise<InstalledCa> {
  const installed: InstalledCa = { files: [], dirs: [] };
  for (const host of [...new Set(hosts)]) {
    const dir = join(certsDir(), host);
    const file = join(dir, CA_FILE_NAME);
    const created = !existsSync(dir);
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, pem, { mode: 0o644 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'EACCES' && code !== 'EPERM') || !(await sudoWrite(dir, file, pem))) {
        core.warning(`ca-cert: could not install the CA for the Docker daemon at ${file} (${code ?? (err as Error).message}); docker login/push to ${host} may fail with a certificate error`);
        continue;
      }
    }
    installed.files.push(file);
    if (created) installed.dirs.push(dir);
    core.info(`ca-cert: the Docker daemon trusts the CA for ${host} (${file})`);
  }
  return installed;
}

async function sudoWrite(dir: string, file: string, pem: string): Promise<boolean> {
  const opts = { ignoreReturnCode: true, silent: true };
  if ((await exec.getExecOutput('sudo', ['-n', 'mkdir', '-p', dir], opts)).exitCode !== 0) return false;
  return (await exec.getExecOutput('sudo', ['-n', 'tee', file], { ...opts, input: Buffer.from(pem) })).exitCode === 0;
}

/** Post step: removes the files installDaemonCa wrote and the directories it created, if empty. */
export async function removeDaemonCa(installed: InstalledCa): Promise<void> {
  for (const file of installed.files) {
    try {
      rmSync(file, { force: true });
    } catch {
      await exec.exec('sudo', ['-n', 'rm', '-f', file], { ignoreReturnCode: true, silent: true });
    }
  }
  for (const dir of installed.dirs) {
    try {
      if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      await exec.exec('sudo', ['-n', 'rmdir', dir], { ignoreReturnCode: true, silent: true });
    }
  }
}

/** buildkitd.toml for a docker-container builder: trust `caFile` for each registry host. */
export function buildkitdConfig(hosts: string[], caFile: string): string {
  return [...new Set(hosts)].map((h) => `[registry.${JSON.stringify(h)}]\n  ca = [${JSON.stringify(caFile)}]\n`).join('\n');
}

/** The registries a run talks to through Docker: the login registry (when given) and every tag's host. */
export function dockerRegistryHosts(registry: string, tags: string[]): string[] {
  const hosts = tags.map((t) => parseImageRef(t).host);
  if (registry.trim()) hosts.unshift(registryHost(registry));
  return [...new Set(hosts)];
}

/** Writes the CA and a buildkitd.toml naming it under RUNNER_TEMP; returns the config's path for buildx create. */
export function writeBuildkitdConfig(hosts: string[], pem: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = mkdtempSync(join(env.RUNNER_TEMP || tmpdir(), 'nitro-buildkitd-'));
  const caFile = join(dir, 'registry-ca.pem');
  writeFileSync(caFile, pem);
  const config = join(dir, 'buildkitd.toml');
  writeFileSync(config, buildkitdConfig(hosts, caFile));
  return config;
}
