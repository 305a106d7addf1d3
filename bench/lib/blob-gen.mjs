// Deterministic blob content, produced as a stream of chunks (never one big Buffer).
// A blob is a sequence of 1 MiB blocks picked from a small fixed pool of pseudo-random
// blocks, with a unique header written over the first bytes — so every (seed, size) has
// its own digest, while generating costs no CPU beyond one copy of the first block.
// The pool blocks are never mutated, so they can sit in a socket's write queue safely.
import { createHash } from 'node:crypto';

export const BLOCK_SIZE = 1 << 20;
const POOL_BLOCKS = 8;

/** xorshift32-filled blocks: incompressible enough, identical on every run. */
const pool = (() => {
  let x = 0x9e3779b9;
  const blocks = [];
  for (let b = 0; b < POOL_BLOCKS; b++) {
    const words = new Uint32Array(BLOCK_SIZE / 4);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      words[i] = x;
    }
    blocks.push(Buffer.from(words.buffer));
  }
  return blocks;
})();

function seedHash(seed) {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** The k-th 1 MiB block of blob (seed, size); block 0 carries the unique header. */
function blockAt(seed, size, k, firstBlockCache) {
  if (k === 0) return firstBlockCache;
  return pool[(k * 5 + seedHash(seed)) % POOL_BLOCKS];
}

function firstBlock(seed, size) {
  const b = Buffer.from(pool[seedHash(seed) % POOL_BLOCKS]);
  b.write(`nitro-bench blob seed=${seed} size=${size}\n`, 0, 'latin1');
  return b;
}

/**
 * Yields the bytes [start, end) of blob (seed, size) as Buffers of at most 1 MiB.
 * Whole blob: blobChunks(seed, size).
 */
export function* blobChunks(seed, size, start = 0, end = size) {
  if (end > size || start < 0 || start > end) throw new RangeError(`bad range ${start}-${end} of ${size}`);
  const first = firstBlock(seed, size);
  let off = start;
  while (off < end) {
    const k = Math.floor(off / BLOCK_SIZE);
    const blockStart = k * BLOCK_SIZE;
    const from = off - blockStart;
    const to = Math.min(BLOCK_SIZE, end - blockStart, size - blockStart);
    const block = blockAt(seed, size, k, first);
    yield from === 0 && to === BLOCK_SIZE ? block : block.subarray(from, to);
    off = blockStart + to;
  }
}

/** Async iterable over blobChunks — the form HTTP clients accept as a streaming body. */
export async function* blobStream(seed, size, start = 0, end = size) {
  yield* blobChunks(seed, size, start, end);
}

/** "sha256:<hex>" of blob (seed, size), by streaming the same generator once. */
export function blobDigest(seed, size) {
  const h = createHash('sha256');
  for (const chunk of blobChunks(seed, size)) h.update(chunk);
  return `sha256:${h.digest('hex')}`;
}

/** A small blob as one Buffer (for KiB-sized blobs only). */
export function smallBlob(seed, size) {
  return Buffer.concat([...blobChunks(seed, size)]);
}
