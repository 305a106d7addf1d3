import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import * as exec from '@actions/exec';
import { ActionError } from '../errors.js';
import type { ActionInputs } from '../inputs.js';
import { buildxBuildArgs } from './buildx-args.js';

export interface BuildResult {
  /** containerimage.digest from the metadata file; undefined when nothing was pushed. */
  digest: string | undefined;
  /** The whole metadata file, for the `metadata` output. */
  metadata: Record<string, unknown>;
}

/** The name of the builder to create: the `builder` input, or a generated one. */
export function builderName(requested: string): string {
  return requested || `nitro-builder-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a docker-container builder the way `docker buildx create --bootstrap` does. The caller saves
 * the name for the post step BEFORE calling this: when the bootstrap fails (the BuildKit image cannot be
 * pulled, say), buildx has already registered the builder and exits non-zero, leaving it behind.
 */
export async function createBuilder(builder: string, options: { buildkitdConfig?: string } = {}): Promise<void> {
  await core.group(`Creating builder ${builder}`, async () => {
    const args = ['buildx', 'create', '--name', builder, '--driver', 'docker-container'];
    if (options.buildkitdConfig) args.push('--buildkitd-config', options.buildkitdConfig);
    args.push('--bootstrap');
    const code = await exec.exec('docker', args, { ignoreReturnCode: true });
    if (code !== 0) throw new ActionError('BUILD_FAILED', `docker buildx create --name ${builder} exited with ${code}`);
  });
}

/** Post step: removes a builder this action created (or began to create). A builder that is not there is fine. */
export async function removeBuilder(name: string): Promise<void> {
  const out = await exec.getExecOutput('docker', ['buildx', 'rm', name], { ignoreReturnCode: true });
  if (out.exitCode === 0) return;
  if (/no builder .* found|not found/i.test(out.stderr)) core.info(`builder ${name} is already gone`);
  else core.warning(`docker buildx rm ${name} exited with ${out.exitCode}: ${out.stderr.trim()}`);
}

export async function buildAndPush(inputs: ActionInputs, labels: Map<string, string>, builder: string | undefined): Promise<BuildResult> {
  const dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'nitro-buildx-'));
  const metadataFile = join(dir, 'metadata.json');
  try {
    const args = buildxBuildArgs(inputs, labels, metadataFile, builder);
    const code = await core.group(`docker ${args.join(' ')}`, () => exec.exec('docker', args, { ignoreReturnCode: true }));
    if (code !== 0) throw new ActionError('BUILD_FAILED', `docker buildx build exited with ${code}`);
    let metadata: Record<string, unknown> = {};
    try {
      metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>;
    } catch {
      if (inputs.push) throw new ActionError('BUILD_FAILED', `buildx wrote no readable metadata file (${metadataFile})`);
    }
    const digest = typeof metadata['containerimage.digest'] === 'string' ? metadata['containerimage.digest'] : undefined;
    if (inputs.push && !digest) throw new ActionError('BUILD_FAILED', 'buildx metadata has no containerimage.digest; cannot tell what was pushed');
    return { digest, metadata };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
