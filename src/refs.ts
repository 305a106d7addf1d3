import { parseImageRef, repositoryName } from './registry/image-ref.js';

/** `name@digest` once per repository the tags name, in first-seen order. */
export function digestRefs(tags: string[], digest: string): string[] {
  return [...new Set(tags.map((t) => repositoryName(parseImageRef(t))))].map((name) => `${name}@${digest}`);
}
