/**
 * Loads the resumable-hash addon (reference-server/native, built by `npm ci` through the package's
 * install script). Absent addon → null, and resumable-hash.ts uses its JavaScript engine; with
 * NITRO_REGISTRY_REQUIRE_NATIVE=1 an absent or broken addon is an error instead (CI and the images set
 * it, so a silently slow server never ships).
 *
 * The .node file is looked up from this module's directory upwards, so the same code finds it from
 * reference-server/src (tests on sources), build/reference-server/src (the compiled tree) and the
 * images' /app (scripts/stage-app.mjs keeps the relative layout).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeHashBinding {
  /** Bytes of one hash context (a Buffer the caller owns). */
  readonly ctxSize: number;
  init(ctx: Buffer, alg: 0 | 1): void;
  update(ctx: Buffer, alg: 0 | 1, data: Uint8Array): void;
  /** Hashes the chunks in order on the libuv thread pool; ctx must not be used until cb runs. */
  updateAsync(ctx: Buffer, alg: 0 | 1, chunks: readonly Uint8Array[], cb: (err: Error | null) => void): void;
  /**
   * On the thread pool, in one job: hashes the chunks in order, then writes them to `fd` at `position`
   * (pwritev until complete). cb gets the bytes written; a write error is shaped like Node's fs errors
   * (code 'ENOSPC', errno, syscall) and leaves the context having hashed every chunk.
   */
  hashWriteAsync(
    ctx: Buffer,
    alg: 0 | 1,
    fd: number,
    position: number,
    chunks: readonly Uint8Array[],
    cb: (err: NodeJS.ErrnoException | null, written: number) => void,
  ): void;
  exportState(ctx: Buffer, alg: 0 | 1): Buffer;
  /** glibc malloc_trim(0): hands free arena pages back to the OS; true when something was released. */
  trimMemory(): boolean;
  /**
   * Detaches the ArrayBuffer of every chunk that spans all of it, which frees its memory at once;
   * returns the bytes freed. The caller must know nobody reads those chunks any more.
   */
  detachBuffers(chunks: readonly Uint8Array[]): number;
  importState(ctx: Buffer, alg: 0 | 1, state: Uint8Array, bytes: number): void;
  digest(ctx: Buffer, alg: 0 | 1): Buffer;
}

export const ADDON_RELATIVE_PATH = join('reference-server', 'native', 'build', 'Release', 'resumable_hash.node');

function findAddon(): string | null {
  const override = process.env.NITRO_REGISTRY_NATIVE_HASH_PATH;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, ADDON_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/** Every function this version calls: an addon built from an older checkout lacks some (git pull without npm ci). */
const REQUIRED = ['init', 'update', 'updateAsync', 'hashWriteAsync', 'exportState', 'importState', 'digest', 'trimMemory', 'detachBuffers'] as const;

function load(): { binding: NativeHashBinding | null; error: string | null } {
  const path = findAddon();
  if (!path) return { binding: null, error: `${ADDON_RELATIVE_PATH} not found (not built: npm ci, or npm run build:native)` };
  try {
    const binding = createRequire(import.meta.url)(path) as Record<string, unknown>;
    const missing = REQUIRED.filter((name) => typeof binding[name] !== 'function');
    if (missing.length > 0) {
      return { binding: null, error: `${path} is out of date (no ${missing.join(', ')}): npm run build:native` };
    }
    return { binding: binding as unknown as NativeHashBinding, error: null };
  } catch (e) {
    return { binding: null, error: `${path}: ${(e as Error).message}` };
  }
}

const loaded = process.env.NITRO_REGISTRY_DISABLE_NATIVE === '1' ? { binding: null, error: 'disabled by NITRO_REGISTRY_DISABLE_NATIVE=1' } : load();
if (!loaded.binding && process.env.NITRO_REGISTRY_REQUIRE_NATIVE === '1') {
  throw new Error(`NITRO_REGISTRY_REQUIRE_NATIVE=1 but the resumable-hash addon is unavailable: ${loaded.error}`);
}

/** The addon, or null when it is unavailable (see nativeHashError for why). */
export const nativeHash: NativeHashBinding | null = loaded.binding;
export const nativeHashError: string | null = loaded.error;
