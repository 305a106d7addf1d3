/** Digests as the OCI image spec defines them: `algorithm ":" encoded`, for the algorithms we verify. */
import { createHash, type Hash } from 'node:crypto';

export const DIGEST_ALGORITHMS = {
  sha256: { hexLength: 64 },
  sha512: { hexLength: 128 },
} as const;

export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface ParsedDigest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  readonly digest: string;
}

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

/** Parses a digest we can verify; null for anything else (unknown algorithm, bad length, upper case...). */
export function parseDigest(value: string): ParsedDigest | null {
  const m = DIGEST_RE.exec(value);
  if (!m) return null;
  const algorithm = m[1] as DigestAlgorithm;
  if (m[2]!.length !== DIGEST_ALGORITHMS[algorithm].hexLength) return null;
  return { algorithm, hex: m[2]!, digest: value };
}

/** The general digest grammar (any algorithm), used to tell "a digest we don't support" from "a tag". */
export const looksLikeDigest = (value: string): boolean => /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(value);

export const newHash = (algorithm: DigestAlgorithm): Hash => createHash(algorithm);

export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
