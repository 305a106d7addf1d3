import { parseList } from '../lists.js';

/**
 * docker/build-push-action's `metadata` output (buildx's metadata file): `containerimage.digest` is the
 * pushed digest, `image.name` the comma-separated tags.
 */
export function parseBuildMetadata(json: string): { images: string[]; digest: string | undefined } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error('Input "metadata" is not JSON (pass docker/build-push-action\'s metadata output as is)');
  }
  const digest = typeof parsed['containerimage.digest'] === 'string' ? parsed['containerimage.digest'] : undefined;
  const names = typeof parsed['image.name'] === 'string' ? parseList(parsed['image.name']) : [];
  return { images: names, digest };
}
