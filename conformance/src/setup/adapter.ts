// How the suite administers a registry for the areas that need more than the /v2/ API: accounts and access
// tokens (auth), repositories with a push rule on (rules), GC and its statistics (gc). Two implementations: the
// Nitro management API (nitro-api.ts) and hooks (hooks.ts: a command or an HTTP call per action, declared in the
// config file). An action an adapter cannot do is absent (undefined); the checks needing it are skipped, saying so.
import type { Credentials } from '../config.js';

export type Role = 'read' | 'write' | 'admin';

export interface PushRules {
  allow_tag_overwrite: boolean;
  must_be_project_member: boolean;
  must_use_auth_token_for_push: boolean;
  require_content_trust: boolean;
}

export interface GcReport {
  dry_run: boolean;
  manifests_deleted: number;
  blobs_deleted: number;
  bytes_freed: number;
}

export interface RepoStats {
  total_tags: number;
  total_blobs: number;
  storage_used: number;
  last_gc: string | null;
}

/** A repository the suite created (or was told about) for a rule or GC check. */
export interface SetupRepository {
  /** Name of the repository (a Nitro repository owns image names equal to it or under `name/`). */
  repository: string;
  /** Registry-side id, passed back to gc()/stats(). */
  id?: string;
  /** A fresh image name inside it for the check to push. */
  image: string;
}

/** Thrown by an adapter when the registry cannot do what was asked (e.g. a rule it has no notion of). */
export class SetupUnsupported extends Error {}

export interface SetupAdapter {
  /** "nitro-api" or "hooks"; shown in reports. */
  readonly kind: string;
  createUser?(username: string, password: string): Promise<Credentials>;
  /** An access token for `username`, used as its password; `expiresIn` seconds when given. */
  createToken?(username: string, name: string, opts?: { expiresIn?: number }): Promise<string>;
  setMember?(repository: string, username: string, role: Role): Promise<void>;
  /** A repository with exactly these rules on (the others off), plus trusted signing keys. */
  createRepository?(slug: string, rules: Partial<PushRules>, publicKeys?: string[]): Promise<SetupRepository>;
  /** Run GC over (at least) the repository; a report when the registry gives one. */
  gc?(target: SetupRepository, opts: { dryRun: boolean; graceSeconds: number }): Promise<GcReport | undefined>;
  /** Whether gc() can honour dryRun. */
  readonly gcDryRun?: boolean;
  stats?(target: SetupRepository): Promise<RepoStats>;
  /** Before the run's images are deleted: turn off the rules (immutable tags, …) on repositories this run
   *  created, so their content can be removed. Access (visibility, membership) is left as it is. */
  release?(): Promise<string[]>;
  /** Remove the accounts and repositories this run created; returns what could not be removed. */
  cleanup(): Promise<string[]>;
}
