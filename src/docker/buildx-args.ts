import type { ActionInputs } from '../inputs.js';
import { isLoopbackHost, parseImageRef } from '../registry/image-ref.js';

/**
 * The argument list of `docker buildx build`, built from parsed inputs. Pure, so tests can check it.
 * Labels are passed in already merged with the defaults.
 */
export function buildxBuildArgs(inputs: ActionInputs, labels: Map<string, string>, metadataFile: string, builder?: string): string[] {
  const args = ['buildx', 'build'];
  if (builder) args.push('--builder', builder);
  if (inputs.file) args.push('--file', inputs.file);
  if (inputs.platforms.length) args.push('--platform', inputs.platforms.join(','));
  for (const tag of inputs.tags) args.push('--tag', tag);
  for (const [k, v] of inputs.buildArgs) args.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of labels) args.push('--label', `${k}=${v}`);
  if (inputs.target) args.push('--target', inputs.target);
  if (inputs.provenance) args.push(`--provenance=${inputs.provenance}`);
  if (inputs.sbom) args.push(`--sbom=${inputs.sbom}`);
  for (const c of inputs.cacheFrom) args.push('--cache-from', c);
  for (const c of inputs.cacheTo) args.push('--cache-to', c);
  args.push('--metadata-file', metadataFile);
  if (inputs.push) {
    // BuildKit has its own notion of plain-HTTP registries; loopback is already allowed by the engine.
    const needsInsecure = inputs.insecure && inputs.tags.some((t) => !isLoopbackHost(parseImageRef(t).host));
    if (needsInsecure) args.push('--output', 'type=image,push=true,registry.insecure=true');
    else args.push('--push');
  }
  args.push(inputs.context);
  return args;
}
