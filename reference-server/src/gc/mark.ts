/**
 * The mark phase for one image name (a metadata "repository"), as a pure function over a snapshot, and
 * the per-deletion re-check the sweep runs inside each deleting transaction.
 *
 * Roots: tagged manifests; untagged manifests the policy keeps (all of them unless delete-untagged and
 * older than the age); referrers whose subject is absent, until the grace period has passed (a referrer
 * may be pushed before its subject). From a kept manifest: its index children, its config and layers,
 * and every manifest whose subject it is — a referrer lives exactly as long as its subject.
 */
import type { GcBlobState, GcLinkState, GcManifestRow, GcManifestState, GcRefRow } from '../metadata/gc-store.js';

export interface Cutoffs {
  /** Anything uploaded, linked or referenced after this instant (ms) is never swept. */
  readonly grace: number;
  /** Untagged manifests created at or before this instant may be deleted; null keeps them all. */
  readonly untagged: number | null;
}

export interface MarkResult {
  readonly keptManifests: ReadonlySet<string>;
  readonly keptBlobs: ReadonlySet<string>;
  /** Unmarked manifests, ordered so that index parents and subjects come before what they keep. */
  readonly garbageManifests: readonly string[];
  /** Manifests kept only because they are younger than the policy's age (GC report: skipped as too new). */
  readonly tooNewManifests: readonly string[];
}

/** Why a manifest is a root of the mark: tagged/kept by policy, kept only for its age, or not a root. */
function rootReason(m: GcManifestRow, present: ReadonlySet<string>, cut: Cutoffs): 'kept' | 'too-new' | null {
  if (m.tagged) return 'kept';
  if (m.subject !== null) return present.has(m.subject) ? null : m.createdAt > cut.grace ? 'too-new' : null;
  if (cut.untagged === null) return 'kept';
  return m.createdAt > cut.untagged ? 'too-new' : null;
}

export function mark(manifests: readonly GcManifestRow[], refs: readonly GcRefRow[], cut: Cutoffs): MarkResult {
  const present = new Set(manifests.map((m) => m.digest));
  const children = new Map<string, string[]>();
  const blobsOf = new Map<string, string[]>();
  for (const r of refs) {
    const into = r.kind === 'manifest' ? children : blobsOf;
    const list = into.get(r.parent);
    if (list) list.push(r.child);
    else into.set(r.parent, [r.child]);
  }
  const referrers = new Map<string, string[]>();
  for (const m of manifests) {
    if (m.subject === null) continue;
    const list = referrers.get(m.subject);
    if (list) list.push(m.digest);
    else referrers.set(m.subject, [m.digest]);
  }

  const kept = new Set<string>();
  const reasons = new Map(manifests.map((m) => [m.digest, rootReason(m, present, cut)] as const));
  const stack = manifests.filter((m) => reasons.get(m.digest) !== null).map((m) => m.digest);
  const tooNewManifests = manifests.filter((m) => reasons.get(m.digest) === 'too-new').map((m) => m.digest);
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (kept.has(d) || !present.has(d)) continue;
    kept.add(d);
    for (const c of children.get(d) ?? []) stack.push(c);
    for (const r of referrers.get(d) ?? []) stack.push(r);
  }
  const keptBlobs = new Set<string>();
  for (const d of kept) for (const b of blobsOf.get(d) ?? []) keptBlobs.add(b);

  // Parents and subjects first, so each deletion's re-check (no parent, no subject left) passes in one pass.
  const depth = new Map<string, number>();
  const parentsOf = new Map<string, string[]>();
  for (const [p, cs] of children) for (const c of cs) parentsOf.set(c, [...(parentsOf.get(c) ?? []), p]);
  const subjectOf = new Map(manifests.filter((m) => m.subject !== null).map((m) => [m.digest, m.subject!] as const));
  const depthOf = (d: string, seen: Set<string>): number => {
    const known = depth.get(d);
    if (known !== undefined) return known;
    if (seen.has(d)) return 0; // cannot happen with content addressing; guards against bad data
    seen.add(d);
    const ups = [...(parentsOf.get(d) ?? []), ...(subjectOf.has(d) ? [subjectOf.get(d)!] : [])].filter((u) => present.has(u));
    const v = ups.length === 0 ? 0 : 1 + Math.max(...ups.map((u) => depthOf(u, seen)));
    depth.set(d, v);
    return v;
  };
  const garbageManifests = manifests
    .filter((m) => !kept.has(m.digest))
    .map((m) => m.digest)
    .sort((a, b) => depthOf(a, new Set()) - depthOf(b, new Set()));
  return { keptManifests: kept, keptBlobs, garbageManifests, tooNewManifests };
}

/**
 * The re-check of one manifest deletion, on state read in the deleting transaction. It only ever
 * refuses more than mark() did: a tag, a parent index or a present subject appearing since the mark
 * keeps the manifest.
 */
export function mayDeleteManifest(s: GcManifestState, cut: Cutoffs): boolean {
  if (s.tagged || s.isChild) return false;
  if (s.subject !== null) return !s.subjectPresent && s.createdAt <= cut.grace;
  return cut.untagged !== null && s.createdAt <= cut.untagged;
}

/** Why GC keeps a link or blob: still used, or only because it is younger than the grace period. */
export type KeepReason = 'used' | 'too-new' | null;

/** A blob link may go when no manifest in its repository references it and it is older than the grace period. */
export function linkVerdict(s: GcLinkState, cut: Cutoffs): KeepReason {
  if (s.referenced) return 'used';
  return Math.max(s.linkedAt, s.lastReferencedAt ?? 0) <= cut.grace ? null : 'too-new';
}

/** A blob may go when nothing links or references it anywhere and it is older than the grace period. */
export function blobVerdict(s: GcBlobState, cut: Cutoffs): KeepReason {
  if (s.links > 0 || s.references > 0) return 'used';
  return s.createdAt <= cut.grace ? null : 'too-new';
}
