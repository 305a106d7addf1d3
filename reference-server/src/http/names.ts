/** Turns route parameters into validated names, tags and digests, or the spec's 400 errors. */
import { RegistryError } from '../oci/errors.js';
import { isValidName, isValidTag } from '../oci/names.js';
import { looksLikeDigest, parseDigest } from '../oci/digest.js';

export function repositoryName(params: Readonly<Record<string, string>>): string {
  const name = params.name ?? '';
  if (!isValidName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export function digestParam(value: string | undefined | null): string {
  if (value && parseDigest(value)) return value;
  throw new RegistryError('DIGEST_INVALID', 'invalid or unsupported digest', { digest: value ?? null });
}

export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: string };

export function referenceParam(value: string | undefined): Reference {
  const v = value ?? '';
  if (looksLikeDigest(v)) return { kind: 'digest', digest: digestParam(v) };
  if (isValidTag(v)) return { kind: 'tag', tag: v };
  throw new RegistryError('TAG_INVALID', 'invalid tag', { reference: v });
}
