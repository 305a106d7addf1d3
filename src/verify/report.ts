import type { ErrorCode } from '../errors.js';

/** The JSON verification report (written to a file, summarised in the job summary). */
export interface VerifyFailure {
  code: ErrorCode;
  message: string;
  /** Full image reference (`host/repo:tag`) when the failure concerns one tag or one repository. */
  image?: string;
  platform?: string;
  blob?: string;
}

export interface TagResult {
  image: string;
  repository: string;
  tag: string;
  expected: string | undefined;
  /** Digest the tag resolves to after verification (and repair, if one was needed). */
  resolved: string | undefined;
  /** Digest the tag resolved to before a repair. */
  resolvedBeforeRepair?: string;
  repaired: boolean;
  ok: boolean;
}

export interface PlatformResult {
  repository: string;
  platform: string;
  digest: string;
  mediaType: string | undefined;
  blobs: number;
  bytes: number;
  ok: boolean;
}

export interface AttestationResult {
  repository: string;
  digest: string;
  /** The platform manifest this attestation describes (vnd.docker.reference.digest). */
  refersTo: string | undefined;
  platform: string | undefined;
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  digest: string | undefined;
  mediaType: string | undefined;
  requestedPlatforms: string[];
  /** Blobs were downloaded and hashed (verify-pull), not only HEADed. */
  pulled: boolean;
  tags: TagResult[];
  platforms: PlatformResult[];
  attestations: AttestationResult[];
  failures: VerifyFailure[];
  warnings: string[];
  startedAt: string;
  durationMs: number;
}

/** `{ "host/repo:tag": "sha256:…" }` */
export function tagDigests(report: VerifyReport): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of report.tags) if (t.resolved) out[t.image] = t.resolved;
  return out;
}

/** `{ "linux/amd64": "sha256:…" }` — platforms are the same in every repository of one push. */
export function platformDigests(report: VerifyReport): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of report.platforms) if (!(p.platform in out)) out[p.platform] = p.digest;
  return out;
}
