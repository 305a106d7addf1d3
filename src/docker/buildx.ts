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

/** Creates a builder the way `docker buildx create` does, returning its name (removed in post). */
export async function createBuilder(name: string | undefined): Promise<string> {
  const builder = name || `nitro-builder-${randomBytes(4).toString('hex')}`;
  await core.group(`Creating builder ${builder}`, async () => {
    const code = await exec.exec('docker', ['buildx', 'create', '--name', builder, '--driver', 'docker-container', '--bootstrap'], { ignoreReturnCode: true });
    if (code !== 0) throw new ActionError('BUILD_FAILED', `docker buildx create --name ${builder} exited with ${code}`);
  });
  return builder;
}

export async function removeBuilder(name: string): Promise<void> {
  const code = await exec.exec('docker', ['buildx', 'rm', name], { ignoreReturnCode: true });
  if (code !== 0) core.warning(`docker buildx rm ${name} exited with ${code}`);
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
