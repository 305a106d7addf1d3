import * as core from '@actions/core';
import type { InstalledCa } from './docker/registry-ca.js';

/**
 * What the post step needs to undo, saved by the main step with core.saveState. The runner hands it back
 * as STATE_* variables to the post step, which runs the same bundle: `isPost` tells them apart.
 */
export interface PostState {
  /** Registry host to `docker logout` from; absent when no login happened or `logout: false`. */
  logoutRegistry?: string;
  /** Builder created by this action (saved before `buildx create`, which may fail half-way), to remove in post. */
  createdBuilder?: string;
  /** CA files installed for the Docker daemon (`ca-cert`), to remove in post. */
  installedCa?: InstalledCa;
}

const IS_POST = 'isPost';
const STATE = 'nitroState';

export function isPostStep(): boolean {
  return core.getState(IS_POST) === 'true';
}

/**
 * The entry of an action with a post step: the runner runs the same bundle twice, and saved state tells
 * which half this is. One catch turns any failure into core.setFailed.
 */
export async function runMainOrPost(main: () => Promise<void>, post: () => Promise<void>): Promise<void> {
  try {
    if (isPostStep()) await post();
    else await main();
  } catch (err) {
    core.setFailed(err instanceof Error ? err.message : String(err));
  }
}

/** Called first in main: from here on, the runner will run the post step in "post" mode. */
export function markMainStarted(): void {
  core.saveState(IS_POST, 'true');
}

let current: PostState = {};

/** Merges and saves at once, so a later failure or timeout still leaves the post step what to clean. */
export function savePostState(update: PostState): void {
  current = { ...current, ...update };
  core.saveState(STATE, JSON.stringify(current));
}

export function loadPostState(): PostState {
  const raw = core.getState(STATE);
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as PostState;
    return {
      logoutRegistry: typeof parsed.logoutRegistry === 'string' ? parsed.logoutRegistry : undefined,
      createdBuilder: typeof parsed.createdBuilder === 'string' ? parsed.createdBuilder : undefined,
      installedCa: isInstalledCa(parsed.installedCa) ? parsed.installedCa : undefined,
    };
  } catch {
    return {};
  }
}

function isInstalledCa(v: unknown): v is InstalledCa {
  const strings = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string');
  return typeof v === 'object' && v !== null && strings((v as InstalledCa).files) && strings((v as InstalledCa).dirs);
}
