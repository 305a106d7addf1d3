/**
 * Tag immutability (the push rule allow_tag_overwrite=false), decided in one place. The decisions are
 * pure functions over facts; every metadata store reads those facts and applies the decision inside the
 * transaction that writes (or deletes), so two replicas racing the first push of an immutable tag
 * cannot both win and a delete cannot slip past a concurrent reference.
 *
 * What an immutable repository refuses:
 *   - moving a tag to another digest (409 TAG_IMMUTABLE), except the two moves a multi-platform push
 *     makes, which never change what the tag serves for a platform (see decideTag);
 *   - deleting a tag; deleting a manifest that is tagged or that an index lists; unlinking a blob that a
 *     stored manifest references (any of these would break what a tag serves).
 * Tags of the referrers fallback scheme (`sha256-<hex>`, also with `.sig`/`.att` suffixes, as cosign
 * writes them) stay writable: they are indexes of signatures, rewritten as signatures are added.
 */

/** The repository's rules as the metadata store needs them (from the push rules; see auth/push-rules.ts). */
export interface WriteRules {
  /** allow_tag_overwrite=false. */
  readonly immutableTags: boolean;
}

export const MUTABLE: WriteRules = { immutableTags: false };

/** Tags the referrers fallback scheme (and cosign) write: `<alg>-<hex>` optionally followed by `.suffix`. */
const FALLBACK_TAG_RE = /^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})(\.[A-Za-z0-9_-]+)*$/;
export const isReferrerFallbackTag = (tag: string): boolean => FALLBACK_TAG_RE.test(tag);

export const tagIsImmutable = (rules: WriteRules, tag: string): boolean => rules.immutableTags && !isReferrerFallbackTag(tag);

/** The manifest being put, as the decision sees it. */
export interface IncomingManifest {
  readonly digest: string;
  /** An in-toto attestation manifest (never what a tag should serve). */
  readonly attestation: boolean;
  /** Digests of its index children (empty for an image manifest). */
  readonly children: readonly string[];
}

/** Facts the store reads, in the writing transaction, for one tag. */
export interface TagFacts {
  /** The digest the tag names now, or null. */
  readonly current: string | null;
  /** The manifest the tag names now is an index that lists the incoming manifest. */
  readonly incomingIsChildOfCurrent: boolean;
  /** Which of the incoming manifest's children are stored attestation manifests. */
  readonly attestationChildren: ReadonlySet<string>;
}

export type TagDecision =
  /** Point the tag at the incoming manifest. */
  | { readonly kind: 'move' }
  /** Store the manifest, leave the tag where it is (an acceptable no-op for the client). */
  | { readonly kind: 'keep' }
  /** Refuse the whole PUT: nothing is written. */
  | { readonly kind: 'conflict'; readonly current: string };

/**
 * Under an immutable tag a PUT may still:
 *   (1) move the tag from manifest M up to an index that lists M and otherwise only attestation
 *       manifests (buildx pushes the platform manifest, then the index with its provenance);
 *   (2) re-send a child of the index the tag names (Docker's containerd-store push re-sends every child
 *       to the tag after the index): the child is stored, the tag stays on the index;
 *   (3) send an attestation manifest to the tag: stored without taking the tag.
 * (1) adds nothing runnable: otherwise anyone with push rights could wrap the old image in an index next
 * to their own.
 */
export function decideTag(rules: WriteRules, tag: string, incoming: IncomingManifest, facts: TagFacts): TagDecision {
  if (!tagIsImmutable(rules, tag) || facts.current === null || facts.current === incoming.digest) {
    // A first push or a same-digest re-push; an attestation never takes a free immutable tag either.
    if (tagIsImmutable(rules, tag) && incoming.attestation && facts.current !== incoming.digest) return { kind: 'keep' };
    return { kind: 'move' };
  }
  if (incoming.attestation) return { kind: 'keep' };
  if (facts.incomingIsChildOfCurrent) return { kind: 'keep' };
  const upgradesToIndex =
    incoming.children.includes(facts.current) &&
    incoming.children.every((c) => c === facts.current || facts.attestationChildren.has(c));
  return upgradesToIndex ? { kind: 'move' } : { kind: 'conflict', current: facts.current };
}

/** What a delete would remove, with the facts the store read in the deleting transaction. */
export type DeleteTarget =
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'manifest'; readonly digest: string; readonly tags: readonly string[]; readonly listedByIndex: boolean }
  | { readonly kind: 'blob'; readonly digest: string; readonly referenced: boolean };

export interface Refusal {
  /** The refused act, in words ("deleting a tag"). */
  readonly what: string;
  readonly detail: Record<string, unknown>;
}

/** Why an immutable repository refuses the delete, or null when it may go ahead. */
export function deleteRefusal(rules: WriteRules, target: DeleteTarget): Refusal | null {
  if (!rules.immutableTags) return null;
  switch (target.kind) {
    case 'tag':
      return tagIsImmutable(rules, target.tag) ? { what: 'deleting a tag', detail: { tag: target.tag } } : null;
    case 'manifest':
      if (target.listedByIndex) return { what: 'deleting a manifest that an index lists', detail: { digest: target.digest } };
      if (target.tags.some((t) => tagIsImmutable(rules, t))) return { what: 'deleting a tagged manifest', detail: { digest: target.digest, tags: target.tags } };
      return null;
    case 'blob':
      return target.referenced ? { what: 'deleting a blob that a manifest references', detail: { digest: target.digest } } : null;
  }
}
